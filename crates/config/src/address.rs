//! Listen addresses as dnsdist takes them: `192.0.2.1`, `192.0.2.1:5300`,
//! `[2001:db8::1]:5300`, `2001:db8::1`; port 53 when none is given.

use std::net::{IpAddr, SocketAddr};

use crate::ConfigError;

/// Parses a listen address.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, ConfigError> {
    parse_addr_with_port(s, 53)
}

/// Parses an address, with `port` when it names none.
pub fn parse_addr_with_port(s: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    Err(ConfigError::BadAddress {
        text: s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_listen_addr;
    use crate::ConfigError;

    #[test]
    fn forms() {
        assert_eq!(
            parse_listen_addr("127.0.0.1").unwrap().to_string(),
            "127.0.0.1:53"
        );
        assert_eq!(
            parse_listen_addr("127.0.0.1:5300").unwrap().to_string(),
            "127.0.0.1:5300"
        );
        assert_eq!(
            parse_listen_addr("[::1]:5300").unwrap().to_string(),
            "[::1]:5300"
        );
        assert_eq!(parse_listen_addr("::1").unwrap().to_string(), "[::1]:53");
        assert_eq!(parse_listen_addr("[::1]").unwrap().to_string(), "[::1]:53");
        let e = parse_listen_addr("localhost").unwrap_err();
        assert!(
            matches!(&e, ConfigError::BadAddress { text } if text == "localhost"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "bad address 'localhost': expected IP, IP:port, [IPv6]:port or IPv6"
        );
        assert!(parse_listen_addr("1.2.3.4:99999").is_err());
    }
}
