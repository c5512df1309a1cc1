//! What query rules change in a query before it is answered or sent on
//! (dnsdist's `SetNoRecurseAction`, `SetDisableValidationAction`,
//! `SetSkipCacheAction`, the `SetECS*Action`s), and putting the client's
//! flags back into the answer it gets.

use wire::types::flags;

/// The changes the rules asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryEdits {
    /// A new header flags word, before the bits below (a Lua rule's
    /// `dq.dh:set...`).
    pub flags: Option<u16>,
    /// Clear RD (`SetNoRecurseAction`, `NoRecurseAction`).
    pub clear_rd: bool,
    /// Set CD (`SetDisableValidationAction`, `DisableValidationAction`).
    pub set_cd: bool,
    /// Neither look the answer up in the pool's cache nor keep it there
    /// (`SetSkipCacheAction`).
    pub skip_cache: bool,
    /// Keep a SERVFAIL or REFUSED answer in the cache this long instead
    /// of the cache's `temporaryFailureTTL` (`SetTempFailureCacheTTLAction`).
    pub temp_failure_ttl: Option<u32>,
    /// What a `useClientSubnet` backend is told of the client.
    pub ecs: EcsEdits,
}

/// The rules' say on the ECS option a query gets on its way to a
/// `useClientSubnet` backend (applied when it is sent, so they change
/// nothing for other backends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcsEdits {
    /// This network instead of the client's (`SetECSAction`).
    pub source: Option<(std::net::IpAddr, u8)>,
    /// These prefix lengths, IPv4 and IPv6, instead of the global ones
    /// (`SetECSPrefixLengthAction`).
    pub prefix: Option<(u8, u8)>,
    /// No option at all (`SetDisableECSAction`).
    pub disabled: bool,
    /// Replace the client's own option, or keep it, whatever
    /// `setECSOverride` says (`SetECSOverrideAction`).
    pub replace: Option<bool>,
}

impl QueryEdits {
    /// Whether the query's bytes change (the packet must then be copied).
    pub fn rewrites(&self) -> bool {
        self.clear_rd || self.set_cd || self.flags.is_some()
    }

    /// Applies the header changes to `packet`; a message shorter than a
    /// header is left alone (it was parsed before, so it never is).
    pub fn apply(&self, packet: &mut [u8]) {
        let Some(word) = packet.get(2..4) else {
            return;
        };
        let mut f = self.flags.unwrap_or(u16::from_be_bytes([word[0], word[1]]));
        if self.clear_rd {
            f &= !flags::RD;
        }
        if self.set_cd {
            f |= flags::CD;
        }
        packet[2..4].copy_from_slice(&f.to_be_bytes());
    }
}

/// Puts the RD and CD bits of the client's query (`client_flags`, its
/// header's flags word) back into `answer`: a backend answers the query
/// as the rules changed it, the client must see the flags it sent
/// (dnsdist's `restoreFlags`).
pub fn restore_flags(answer: &mut [u8], client_flags: u16) {
    let Some(word) = answer.get(2..4) else {
        return;
    };
    let kept = flags::RD | flags::CD;
    let f = (u16::from_be_bytes([word[0], word[1]]) & !kept) | (client_flags & kept);
    answer[2..4].copy_from_slice(&f.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_change_only_their_bit() {
        let mut p = [0u8, 1, 0x01, 0x20, 0, 1];
        QueryEdits {
            clear_rd: true,
            ..Default::default()
        }
        .apply(&mut p);
        assert_eq!(p[2..4], [0x00, 0x20]);
        QueryEdits {
            set_cd: true,
            ..Default::default()
        }
        .apply(&mut p);
        assert_eq!(p[2..4], [0x00, 0x30]);
        assert!(!QueryEdits::default().rewrites());
        let mut short = [1u8, 2, 3];
        QueryEdits {
            clear_rd: true,
            set_cd: true,
            skip_cache: true,
            temp_failure_ttl: Some(1),
            flags: Some(0),
            ecs: EcsEdits::default(),
        }
        .apply(&mut short);
        assert_eq!(short, [1, 2, 3]);
    }

    #[test]
    fn the_client_gets_its_own_rd_and_cd_back() {
        // The backend answered RD=0 CD=1 with AA and RA; the client asked
        // RD=1 CD=0.
        let mut answer = [0u8, 1, 0x84, 0x90];
        restore_flags(&mut answer, 0x0100);
        assert_eq!(answer[2..4], [0x85, 0x80]);
    }
}
