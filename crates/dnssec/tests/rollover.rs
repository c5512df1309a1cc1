//! Key rollovers on a simulated clock (half an hour in the past, so that
//! the real verifiers accept every signature made on it): a ZSK
//! pre-published then swapped then removed, and a CSK double-signed until
//! the operator says the parent has the new DS. `dnssec-verify` passes
//! the zone at every step.

use std::path::{Path, PathBuf};
use std::process::Command;

use dnssec::policy::{algorithm, KeySpec, Policy, Role, ZoneSigning};
use dnssec::Signer;
use zone::records::{RecordSet, SerialPolicy};

const ZONE: &str = "\
$TTL 60
@       SOA  ns1 hostmaster 1 7200 3600 1209600 60
@       NS   ns1
ns1     A    192.0.2.53
www     A    192.0.2.80
";

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-roll-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn real_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn policy(keys: Vec<KeySpec>) -> Policy {
    Policy {
        keys,
        dnskey_ttl: 60,
        publish_safety: 0,
        retire_safety: 0,
        zone_propagation_delay: 0,
        parent_ds_ttl: 60,
        parent_propagation_delay: 0,
        ..Policy::default()
    }
}

struct Zone {
    dir: PathBuf,
    apex: Vec<u8>,
    signer: Signer,
    unsigned: RecordSet,
    signed: Option<RecordSet>,
}

impl Zone {
    fn new(tag: &str, keys: Vec<KeySpec>, t0: u64) -> Zone {
        let dir = scratch(tag);
        let apex = zone::parse_name("example.test.").unwrap();
        let loaded =
            zone::load_zone_bytes("example.test.", ZONE.as_bytes(), Path::new("z")).unwrap();
        let signing = ZoneSigning {
            policy: policy(keys),
            key_directory: dir.join("keys"),
            ..ZoneSigning::default()
        };
        let signer = Signer::open(&apex, signing, false, t0).unwrap();
        Zone {
            dir,
            apex,
            signer,
            unsigned: RecordSet::from_zone(&loaded.zone),
            signed: None,
        }
    }

    /// Rolls and signs at `t`, verifies, and returns the DNSKEY tags and
    /// the tags that signed `www A`.
    fn step(&mut self, t: u64) -> (Vec<u16>, Vec<u16>) {
        self.signer.roll(t, 60).unwrap();
        let out = self
            .signer
            .sign(
                &self.unsigned,
                self.signed.as_ref(),
                true,
                t,
                SerialPolicy::Increment,
            )
            .unwrap();
        let path = self.dir.join(format!("signed-{t}.zone"));
        zone::text::write_zone_file(&path, &self.apex, &out.records, "rollover test").unwrap();
        // -z (a key with the SEP flag may sign the zone) only for a CSK:
        // where there is a ZSK, it must be the one that signs.
        let csk = !self.signer.keys().iter().any(|k| k.flags == 256);
        let v = Command::new("dnssec-verify")
            .args(if csk { &["-z"][..] } else { &[][..] })
            .args(["-o", "example.test."])
            .arg(&path)
            .output()
            .expect("dnssec-verify (apt-get install bind9-utils)");
        assert!(
            v.status.success(),
            "at {t}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        let dnskeys: Vec<u16> = out
            .records
            .rrset_entries(&self.apex, 48)
            .map(|(r, _)| dnssec::keys::key_tag(r))
            .collect();
        let www = zone::parse_name("www.example.test.").unwrap();
        let signers: Vec<u16> = out
            .records
            .rrset_entries(&www, 46)
            .filter_map(|(r, _)| dnssec::rrsig::fields(r))
            .filter(|f| f.covered == 1)
            .map(|f| f.tag)
            .collect();
        self.signed = Some(out.records);
        (dnskeys, signers)
    }
}

#[test]
fn zsk_is_prepublished_swapped_and_removed() {
    let t0 = real_now() - 1800;
    let keys = vec![
        KeySpec {
            role: Role::Ksk,
            algorithm: algorithm::ECDSAP256SHA256,
            lifetime: 0,
        },
        KeySpec {
            role: Role::Zsk,
            algorithm: algorithm::ECDSAP256SHA256,
            lifetime: 600,
        },
    ];
    let mut z = Zone::new("zsk", keys, t0);
    let (keys0, by0) = z.step(t0);
    assert_eq!(keys0.len(), 2);
    assert_eq!(by0.len(), 1);
    let old_zsk = by0[0];
    // Not yet: the successor is due 60 s (the DNSKEY TTL) before the end.
    let (keys1, _) = z.step(t0 + 500);
    assert_eq!(keys1.len(), 2);
    // Pre-published: three keys, the old ZSK still signs.
    let (keys2, by2) = z.step(t0 + 550);
    assert_eq!(keys2.len(), 3, "successor not published");
    assert_eq!(by2, vec![old_zsk]);
    assert_eq!(z.signer.next_key_event(t0 + 550), Some(t0 + 610));
    // Swapped: the new ZSK signs, the old one is still published.
    let (keys3, by3) = z.step(t0 + 620);
    assert_eq!(keys3.len(), 3);
    assert_eq!(by3.len(), 1);
    assert_ne!(by3[0], old_zsk);
    // Removed once its signatures have left caches (TTL 60).
    let (keys4, by4) = z.step(t0 + 700);
    assert_eq!(keys4.len(), 2);
    assert!(!keys4.contains(&old_zsk));
    assert_eq!(by4, by3);
    // The old key's files carry the schedule, as dnssec-settime writes it.
    let old_file = z
        .signer
        .keys()
        .iter()
        .find(|k| k.tag == old_zsk)
        .unwrap()
        .file
        .clone();
    let private = std::fs::read_to_string(old_file.with_extension("private")).unwrap();
    assert!(
        private.contains("Inactive: ") && private.contains("Delete: "),
        "{private}"
    );
    let _ = std::fs::remove_dir_all(&z.dir);
}

#[test]
fn csk_is_double_signed_until_the_parent_has_the_new_ds() {
    let t0 = real_now() - 1800;
    let keys = vec![KeySpec {
        role: Role::Csk,
        algorithm: algorithm::ECDSAP256SHA256,
        lifetime: 600,
    }];
    let mut z = Zone::new("csk", keys, t0);
    let (_, by0) = z.step(t0);
    let old = by0[0];
    let (keys1, by1) = z.step(t0 + 550);
    assert_eq!(keys1.len(), 2, "successor not published");
    assert_eq!(by1.len(), 2, "not double-signed: {by1:?}");
    // Still double-signed later: nothing moves until the operator says so.
    let (_, by2) = z.step(t0 + 900);
    assert_eq!(by2.len(), 2);
    let said = z.signer.ksk_submitted(t0 + 900).unwrap();
    assert!(said[0].contains(&old.to_string()), "{said:?}");
    // The old key goes after the parent's DS TTL (60 s here).
    let (keys3, by3) = z.step(t0 + 1000);
    assert_eq!(keys3.len(), 1);
    assert!(!by3.contains(&old));
    let _ = std::fs::remove_dir_all(&z.dir);
}
