//! Zones signed here pass the three zone verifiers operators use:
//! BIND's `dnssec-verify`, ldns's `ldns-verify-zone` and Knot's
//! `kzonecheck --dnssec on`; and re-signing after a change keeps what it
//! can. The verifiers come from Debian's bind9-utils, ldnsutils and
//! knot-dnssecutils (`.ci/run` installs them); without them the test
//! fails rather than pass vacuously.

use std::path::{Path, PathBuf};
use std::process::Command;

use dnssec::policy::{Denial, Policy, ZoneSigning};
use dnssec::Signer;
use zone::records::{Record, RecordSet, SerialPolicy};

const ZONE: &str = "\
$TTL 3600
@       SOA  ns1 hostmaster 2026120601 7200 3600 1209600 300
@       NS   ns1
@       NS   ns2.other.test.
@       A    192.0.2.1
@       MX   10 mail
ns1     A    192.0.2.53
www     A    192.0.2.80
www     AAAA 2001:db8::80
mail    A    192.0.2.25
*.wild  TXT  \"wildcard\"
a.b.c   TXT  \"below an empty non-terminal\"
alias   CNAME www
sub     NS   ns.sub
ns.sub  A    192.0.2.99
secure  NS   ns.secure
secure  DS   12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.secure A  192.0.2.98
";

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-dnssec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unsigned(text: &str, dir: &Path) -> RecordSet {
    let path = dir.join("example.test.zone");
    let loaded = zone::load_zone_bytes("example.test.", text.as_bytes(), &path).unwrap();
    RecordSet::from_zone(&loaded.zone)
}

fn write(set: &RecordSet, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let apex = zone::parse_name("example.test.").unwrap();
    zone::text::write_zone_file(&path, &apex, set, "signed by rampart's test").unwrap();
    path
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{cmd:?}: {e} (install bind9-utils, ldnsutils, knot-dnssecutils)")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn verify_all(file: &Path) {
    // -z: the key with the SEP flag (a CSK) may sign the whole zone.
    let (ok, text) = run(Command::new("dnssec-verify")
        .args(["-z", "-o", "example.test."])
        .arg(file));
    assert!(ok, "dnssec-verify {}: {text}", file.display());
    let (ok, text) = run(Command::new("ldns-verify-zone")
        .args(["-e", "P3D"])
        .arg(file));
    assert!(ok, "ldns-verify-zone {}: {text}", file.display());
    let (ok, text) = run(Command::new("kzonecheck")
        .args(["-o", "example.test.", "-d", "on"])
        .arg(file));
    assert!(ok, "kzonecheck {}: {text}", file.display());
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signer(dir: &Path, denial: Denial) -> Signer {
    let apex = zone::parse_name("example.test.").unwrap();
    let signing = ZoneSigning {
        policy: Policy {
            denial,
            ..Policy::default()
        },
        key_directory: dir.join("keys"),
        ..ZoneSigning::default()
    };
    Signer::open(&apex, signing, false, now()).unwrap()
}

#[test]
fn nsec_zone_verifies_and_a_change_resigns_only_what_it_touched() {
    let dir = scratch("nsec");
    let mut s = signer(&dir, Denial::Nsec);
    let first = s
        .sign(
            &unsigned(ZONE, &dir),
            None,
            true,
            now(),
            SerialPolicy::Increment,
        )
        .unwrap();
    verify_all(&write(&first.records, &dir, "signed.zone"));
    assert_eq!(first.reused, 0);
    // Unchanged: every signature kept, nothing differs, serial unchanged.
    let again = s
        .sign(
            &unsigned(ZONE, &dir),
            Some(&first.records),
            true,
            now(),
            SerialPolicy::Increment,
        )
        .unwrap();
    assert_eq!(again.made, 0, "an unchanged zone made signatures");
    assert_eq!(again.records, first.records);
    assert_eq!(again.serial, 2026120601);

    // One name added: its A, its NSEC, the predecessor's NSEC and the SOA
    // are signed again (Knot's four), and the serial moves on.
    let mut changed = unsigned(ZONE, &dir);
    let apex = zone::parse_name("example.test.").unwrap();
    let new = zone::parse_name("new.example.test.").unwrap();
    changed.insert(Record {
        owner: new.into(),
        rtype: 1,
        ttl: 3600,
        rdata: vec![192, 0, 2, 7].into(),
    });
    let next = s
        .sign(
            &changed,
            Some(&first.records),
            true,
            now(),
            SerialPolicy::Increment,
        )
        .unwrap();
    assert_eq!(next.made, 4, "signatures made for one new name");
    assert_eq!(next.serial, 2026120602);
    assert!(next.records.soa(&apex).is_some());
    verify_all(&write(&next.records, &dir, "signed2.zone"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nsec3_zones_verify_with_and_without_opt_out() {
    for opt_out in [false, true] {
        let dir = scratch(if opt_out { "nsec3-optout" } else { "nsec3" });
        let mut s = signer(
            &dir,
            Denial::Nsec3 {
                iterations: 0,
                salt: Vec::new(),
                opt_out,
            },
        );
        let signed = s
            .sign(
                &unsigned(ZONE, &dir),
                None,
                true,
                now(),
                SerialPolicy::Increment,
            )
            .unwrap();
        verify_all(&write(&signed.records, &dir, "signed.zone"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn keys_survive_and_missing_keys_of_a_signed_zone_are_not_remade() {
    let dir = scratch("keys");
    let tags: Vec<u16> = signer(&dir, Denial::Nsec)
        .keys()
        .iter()
        .map(|k| k.tag)
        .collect();
    let again: Vec<u16> = signer(&dir, Denial::Nsec)
        .keys()
        .iter()
        .map(|k| k.tag)
        .collect();
    assert_eq!(tags, again, "keys were remade on the second open");
    std::fs::remove_dir_all(dir.join("keys")).unwrap();
    let apex = zone::parse_name("example.test.").unwrap();
    let signing = ZoneSigning {
        policy: Policy::default(),
        key_directory: dir.join("keys"),
        ..ZoneSigning::default()
    };
    let e = Signer::open(&apex, signing, true, now()).unwrap_err();
    assert!(e.to_string().contains("not making new keys"), "{e}");
    assert!(
        matches!(
            e,
            dnssec::DnssecError::KeysLost {
                role: "key-signing",
                algorithm: 13,
                ..
            }
        ),
        "{e:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ed25519_made_here_and_rsa_imported_from_dnssec_keygen_sign_verifiable_zones() {
    use dnssec::policy::{algorithm, KeySpec, Role};
    let apex = zone::parse_name("example.test.").unwrap();
    for (alg, import) in [(algorithm::ED25519, false), (algorithm::RSASHA256, true)] {
        let dir = scratch(&format!("alg{alg}"));
        let keys = dir.join("keys");
        if import {
            std::fs::create_dir_all(&keys).unwrap();
            let (ok, text) = run(Command::new("dnssec-keygen")
                .args(["-q", "-a", "RSASHA256", "-b", "2048", "-f", "KSK", "-K"])
                .arg(&keys)
                .arg("example.test"));
            assert!(ok, "dnssec-keygen: {text}");
        }
        let signing = ZoneSigning {
            policy: Policy {
                keys: vec![KeySpec {
                    role: Role::Csk,
                    algorithm: alg,
                    lifetime: 0,
                }],
                ..Policy::default()
            },
            key_directory: keys,
            ..ZoneSigning::default()
        };
        let mut s = Signer::open(&apex, signing, false, now()).unwrap();
        assert_eq!(s.keys().len(), 1);
        assert_eq!(s.keys()[0].algorithm, alg);
        let signed = s
            .sign(
                &unsigned(ZONE, &dir),
                None,
                true,
                now(),
                SerialPolicy::Increment,
            )
            .unwrap();
        verify_all(&write(&signed.records, &dir, "signed.zone"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
