//! Command-line arguments: raw words in, a validated [`Command`] out.
//!
//! The flags are dnsdist's where dnsdist has them (`-C`, `-l`,
//! `--check-config`, `-V`), so existing service units keep working.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve(ServeArgs),
    CheckConfig(ServeArgs),
    /// `-c [ADDR]`, `-e CMD`: talk to a running server's console.
    Client(ClientArgs),
    CheckZone {
        name: String,
        file: PathBuf,
        quiet: bool,
    },
    /// `sign-zone [--key-directory DIR] [--nsec3] [--nsec3-opt-out] [-o OUT] ZONE FILE`.
    SignZone(SignZoneArgs),
    /// `journal verify|show ZONE [--dir DIR]`.
    Journal {
        show: bool,
        zone: String,
        dir: PathBuf,
    },
    /// `check SUBCOMMAND …`: the monitoring plugin; its words are read by
    /// [`crate::check`], which answers bad ones with UNKNOWN (exit 3).
    Check(Vec<String>),
    Version,
    Help,
}

/// Arguments for signing a zone file offline.
#[derive(Debug, PartialEq, Eq)]
pub struct SignZoneArgs {
    pub name: String,
    pub file: PathBuf,
    /// Where the signed zone goes (default: `FILE.signed`).
    pub out: PathBuf,
    /// Where the zone's keys are, or are made (default: here).
    pub key_directory: PathBuf,
    pub nsec3: bool,
    pub opt_out: bool,
}

/// Arguments for the console client.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientArgs {
    pub config: PathBuf,
    pub addr: Option<SocketAddr>,
    pub key: Option<String>,
    /// `-e`: run this one command and exit.
    pub exec: Option<String>,
}

/// Arguments for serving (and checking what would be served).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServeArgs {
    pub config: PathBuf,
    /// `-l` addresses: replace the config's listeners when given.
    pub listen: Vec<SocketAddr>,
    pub udp_workers: Option<usize>,
    /// `-a`: the ACL the config starts from (instead of the default).
    pub acl: Vec<String>,
    /// `-u`/`-g`: the user and group to run as once sockets are bound.
    pub user: Option<String>,
    pub group: Option<String>,
    /// `--log-format`: how log lines are written on stderr.
    pub log_format: crate::logging::Format,
    /// `-v`: debug lines too.
    pub verbose: bool,
    /// `--disable-syslog`: stderr only.
    pub disable_syslog: bool,
    /// `--supervised`: run by a supervisor (systemd, daemontools).
    pub supervised: bool,
}

pub const DEFAULT_CONFIG: &str = "/etc/rampart/rampart.conf";

pub const USAGE: &str = "\
usage: rampart [-C FILE] [-l ADDR]... [--workers N] [-v] [--log-format FMT]
               [--disable-syslog] [--check-config]
       rampart check-zone [-q] ZONE FILE
       rampart sign-zone [--key-directory DIR] [--nsec3] [--nsec3-opt-out] [-o OUT] ZONE FILE
       rampart journal verify|show ZONE [--dir DIR]
       rampart check dig|soa-sync|time|rrsig|tls ...
       rampart -V | -h

  -C, --config FILE   Lua config, dnsdist dialect (default /etc/rampart/rampart.conf)
  -c, --client [ADDR] talk to the console of a running server (address and
                      key from the config's controlSocket/setKey)
  -e, --execute CMD   run one console command and exit (implies -c)
  -k, --setkey KEY    console key, base64, instead of the config's
  -a, --acl NETMASK   start the ACL from these netmasks (repeatable) instead
                      of the default; setACL/addACL in the config still apply
  -u, --uid USER      run as USER once the sockets are bound
  -g, --gid GROUP     run as GROUP once the sockets are bound
  -v, --verbose       debug lines too (as setVerbose(true) in the config)
      --log-format FMT
                      log lines on stderr as plain (default, dnsdist's
                      \"rampart[warning]: ...\"), logfmt or json
      --disable-syslog
                      log to stderr only (else to syslog too, facility
                      daemon, as dnsdist)
      --supervised    for dnsdist's service units: rampart never daemonizes
                      nor reads a console on stdin; readiness goes to
                      $NOTIFY_SOCKET whenever systemd sets it
  -l, --local ADDR    listen on ADDR (IP[:port], [IPv6]:port); repeatable;
                      replaces the config's setLocal/addLocal
      --workers N     UDP worker threads per listener (default: one per core)
      --check-config  load the config and every zone, report, exit 0 or 1
  check-zone ZONE FILE  check one zone file like named-checkzone
  sign-zone ZONE FILE   sign one zone file with the zone's keys in DIR (made
                      there when missing: one ECDSA P-256 CSK), NSEC or
                      NSEC3 (no salt, 0 iterations); writes OUT (default
                      FILE.signed) and prints records in, signatures made
                      and seconds
  journal verify ZONE --dir DIR
                      walk the zone's hash-chained journal; exit 0 when intact,
                      1 naming the first block that does not match
  journal show ZONE --dir DIR
                      list every change: serials, time, source, records
  check dig|soa-sync|time|rrsig|tls ...
                      monitoring plugin for Nagios/NRPE (exit 0-3, perfdata);
                      rampart check --help lists the options
  -V, --version       print the version
";

/// `journal verify|show ZONE [--dir DIR]` (default directory: here).
fn journal(args: &[String]) -> Result<Command, String> {
    let usage = "usage: rampart journal verify|show ZONE [--dir DIR]";
    let mut dir = PathBuf::from(".");
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" | "-d" => {
                dir = PathBuf::from(
                    it.next()
                        .ok_or(format!("--dir needs a directory\n{usage}"))?,
                )
            }
            s if s.starts_with("--dir=") => dir = PathBuf::from(&s[6..]),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("journal: unknown option {s}\n{usage}"))
            }
            _ => rest.push(a.clone()),
        }
    }
    let [what, zone] = rest.as_slice() else {
        return Err(usage.into());
    };
    let show = match what.as_str() {
        "verify" => false,
        "show" => true,
        other => {
            return Err(format!(
                "journal: expected verify or show, found '{other}'\n{usage}"
            ))
        }
    };
    Ok(Command::Journal {
        show,
        zone: zone.clone(),
        dir,
    })
}

/// A command-line word as a flag and, for `--flag=value`, its value.
fn split_flag(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v)),
        _ => (word, None),
    }
}

/// A flag's value: given after `=`, else the next word.
fn flag_value(inline: Option<&str>, rest: &mut std::slice::Iter<'_, String>) -> Option<String> {
    inline.map(str::to_string).or_else(|| rest.next().cloned())
}

/// `sign-zone [--key-directory DIR] [--nsec3] [--nsec3-opt-out] [-o OUT] ZONE FILE`.
fn sign_zone(args: &[String]) -> Result<Command, String> {
    let usage = "usage: rampart sign-zone [--key-directory DIR] [--nsec3] [--nsec3-opt-out] \
                 [-o OUT] ZONE FILE";
    let mut out = None;
    let mut key_directory = PathBuf::from(".");
    let (mut nsec3, mut opt_out) = (false, false);
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = split_flag(a);
        let mut value = |name: &str| -> Result<String, String> {
            flag_value(inline, &mut it)
                .ok_or_else(|| format!("sign-zone: {name} needs a value\n{usage}"))
        };
        match flag {
            "-K" | "--key-directory" => key_directory = PathBuf::from(value(flag)?),
            "-o" | "--output" => out = Some(PathBuf::from(value(flag)?)),
            "--nsec3" => nsec3 = true,
            // Opt-out is an NSEC3 flag: asking for it asks for NSEC3.
            "--nsec3-opt-out" => (nsec3, opt_out) = (true, true),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("sign-zone: unknown option {s}\n{usage}"))
            }
            _ => rest.push(a.clone()),
        }
    }
    let [name, file] = rest.as_slice() else {
        return Err(format!("sign-zone needs a zone name and a file\n{usage}"));
    };
    let file = PathBuf::from(file);
    let out = out.unwrap_or_else(|| {
        let mut signed = file.clone().into_os_string();
        signed.push(".signed");
        PathBuf::from(signed)
    });
    Ok(Command::SignZone(SignZoneArgs {
        name: name.clone(),
        file,
        out,
        key_directory,
        nsec3,
        opt_out,
    }))
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("check") {
        return Ok(Command::Check(args[1..].to_vec()));
    }
    if args.first().map(String::as_str) == Some("journal") {
        return journal(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("sign-zone") {
        return sign_zone(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("check-zone") {
        let mut quiet = false;
        let mut rest = Vec::new();
        for a in &args[1..] {
            match a.as_str() {
                "-q" => quiet = true,
                s if s.starts_with('-') && s.len() > 1 => {
                    return Err(format!("check-zone: unknown option {s}"))
                }
                _ => rest.push(a.clone()),
            }
        }
        let [name, file] = rest.as_slice() else {
            return Err(
                "check-zone needs a zone name and a file: rampart check-zone ZONE FILE".into(),
            );
        };
        return Ok(Command::CheckZone {
            name: name.clone(),
            file: PathBuf::from(file),
            quiet,
        });
    }
    let mut serve = ServeArgs {
        config: PathBuf::from(DEFAULT_CONFIG),
        ..ServeArgs::default()
    };
    let mut check = false;
    let mut client = false;
    let mut client_args = ClientArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = split_flag(a);
        let mut value = |name: &str| -> Result<String, String> {
            flag_value(inline, &mut it).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "-C" | "--config" => serve.config = PathBuf::from(value(flag)?),
            "-l" | "--local" => {
                let v = value(flag)?;
                serve
                    .listen
                    .push(config::parse_listen_addr(&v).map_err(|e| format!("{flag}: {e}"))?);
            }
            "--workers" => {
                let v = value(flag)?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--workers: expected a number, found '{v}'"))?;
                if n == 0 || n > 256 {
                    return Err(format!("--workers: expected 1 to 256, found {n}"));
                }
                serve.udp_workers = Some(n);
            }
            "--check-config" => check = true,
            "-a" | "--acl" => {
                let v = value(flag)?;
                shield::Netmask::parse(&v).map_err(|e| format!("{flag}: {e}"))?;
                serve.acl.push(v);
            }
            "-u" | "--uid" => serve.user = Some(value(flag)?),
            "-g" | "--gid" => serve.group = Some(value(flag)?),
            "--supervised" => serve.supervised = true,
            "--disable-syslog" => serve.disable_syslog = true,
            "-v" | "--verbose" => serve.verbose = true,
            "--log-format" => serve.log_format = crate::logging::Format::parse(&value(flag)?)?,
            "-c" | "--client" => {
                client = true;
                // An address may follow (port 5199 when it names none).
                if let Some(next) = it.clone().next().filter(|n| !n.starts_with('-')) {
                    let addr = config::console_lua::console_addr(next)
                        .map_err(|e| format!("{flag}: {e}"))?;
                    client_args.addr = Some(addr);
                    it.next();
                }
            }
            "-e" | "--execute" => {
                client = true;
                client_args.exec = Some(value(flag)?);
            }
            "-k" | "--setkey" => client_args.key = Some(value(flag)?),
            "-V" | "--version" => return Ok(Command::Version),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if client {
        client_args.config = serve.config;
        return Ok(Command::Client(client_args));
    }
    Ok(if check {
        Command::CheckConfig(serve)
    } else {
        Command::Serve(serve)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<Command, String> {
        parse(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn serve_flags() {
        let Command::Serve(a) = p(&[
            "-C",
            "x.conf",
            "-l",
            "127.0.0.1:5300",
            "--local=[::1]:53",
            "--workers",
            "2",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.config, PathBuf::from("x.conf"));
        assert_eq!(a.listen.len(), 2);
        assert_eq!(a.udp_workers, Some(2));
        assert!(matches!(
            p(&["--check-config"]).unwrap(),
            Command::CheckConfig(_)
        ));
        let Command::Serve(a) = p(&["-v", "--supervised", "--disable-syslog"]).unwrap() else {
            panic!()
        };
        assert!(a.verbose && a.supervised && a.disable_syslog);
        assert_eq!(a.log_format, crate::logging::Format::Plain);
        let Command::Serve(a) = p(&["--log-format=json"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.log_format, crate::logging::Format::Json);
        let Command::Serve(a) = p(&["--log-format", "logfmt"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.log_format, crate::logging::Format::Logfmt);
        assert!(p(&["--log-format", "xml"]).is_err());
        assert!(p(&["-l"]).is_err());
        assert!(p(&["-l", "nope"]).is_err());
        assert!(p(&["--bogus"]).is_err());
    }

    #[test]
    fn client_flags() {
        let Command::Client(c) = p(&["-C", "x.conf", "-c", "127.0.0.1:5199", "-k", "KEY"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.addr, Some("127.0.0.1:5199".parse().unwrap()));
        assert_eq!(
            (c.key.as_deref(), c.config.as_path()),
            (Some("KEY"), std::path::Path::new("x.conf"))
        );
        let Command::Client(c) = p(&["-c", "-e", "showRules()"]).unwrap() else {
            panic!()
        };
        assert_eq!((c.addr, c.exec.as_deref()), (None, Some("showRules()")));
        // Without a port, the console's (not DNS's 53), IPv6 included.
        for (arg, want) in [("127.0.0.1", "127.0.0.1:5199"), ("::1", "[::1]:5199")] {
            let Command::Client(c) = p(&["-c", arg]).unwrap() else {
                panic!()
            };
            assert_eq!(c.addr, Some(want.parse().unwrap()), "{arg}");
        }
        assert!(p(&["-c", "localhost:5199"])
            .unwrap_err()
            .contains("bad address 'localhost:5199'"));
    }

    #[test]
    fn check_zone() {
        assert_eq!(
            p(&["check-zone", "example.org", "z.zone"]).unwrap(),
            Command::CheckZone {
                name: "example.org".into(),
                file: "z.zone".into(),
                quiet: false
            }
        );
        assert!(p(&["check-zone", "example.org"]).is_err());
    }

    #[test]
    fn sign_zone() {
        assert_eq!(
            p(&["sign-zone", "example.org", "z.zone"]).unwrap(),
            Command::SignZone(SignZoneArgs {
                name: "example.org".into(),
                file: "z.zone".into(),
                out: "z.zone.signed".into(),
                key_directory: ".".into(),
                nsec3: false,
                opt_out: false,
            })
        );
        assert_eq!(
            p(&[
                "sign-zone",
                "--key-directory=keys",
                "--nsec3-opt-out",
                "-o",
                "out.zone",
                "example.org",
                "z.zone"
            ])
            .unwrap(),
            Command::SignZone(SignZoneArgs {
                name: "example.org".into(),
                file: "z.zone".into(),
                out: "out.zone".into(),
                key_directory: "keys".into(),
                nsec3: true,
                opt_out: true,
            })
        );
        assert!(p(&["sign-zone", "example.org"]).is_err());
        assert!(p(&["sign-zone", "-o"]).is_err());
        assert!(p(&["sign-zone", "--salt", "ab", "example.org", "z.zone"]).is_err());
    }

    #[test]
    fn check_takes_every_word_after_it() {
        assert_eq!(
            p(&["check", "dig", "-H", "127.0.0.1", "-c", "2"]).unwrap(),
            Command::Check(vec![
                "dig".into(),
                "-H".into(),
                "127.0.0.1".into(),
                "-c".into(),
                "2".into()
            ])
        );
    }
}
