//! `rampart sign-zone`: one zone file signed offline, the way the server
//! signs a zone it loads (same keys, same policy defaults, same signer),
//! for `dnssec-signzone`/`kzonesign` users and to time the signer alone.

use std::process::ExitCode;
use std::time::Instant;

use dnssec::{Denial, Policy, Signer, ZoneSigning};
use zone::records::{RecordSet, SerialPolicy};

use crate::args::SignZoneArgs;

/// Loads, signs and writes; one line on stdout when it worked, the error
/// (naming the file, and the line where there is one) on stderr if not.
pub fn run(a: &SignZoneArgs) -> ExitCode {
    match sign(a) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rampart sign-zone: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sign(a: &SignZoneArgs) -> Result<String, String> {
    let started = Instant::now();
    let file = a.file.display();
    let loaded = zone::load_zone(&a.name, &a.file).map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let apex = loaded.zone.apex.clone();
    let unsigned = RecordSet::from_zone(&loaded.zone);
    drop(loaded);
    let loaded_at = started.elapsed();

    let mut policy = Policy::default();
    if a.nsec3 {
        // RFC 9276: no salt, no extra iterations.
        policy.denial = Denial::Nsec3 {
            iterations: 0,
            salt: Vec::new(),
            opt_out: a.opt_out,
        };
    }
    let signing = ZoneSigning {
        policy,
        key_directory: a.key_directory.clone(),
        ..ZoneSigning::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // As the server does for a zone never signed before: the policy's
    // keys are made when the directory has none.
    let mut signer = Signer::open(&apex, signing, false, now).map_err(|e| e.to_string())?;
    let outcome = signer
        .sign(&unsigned, None, true, now, SerialPolicy::Keep)
        .map_err(|e| format!("{file}: {e}"))?;
    let records_in = unsigned.len();
    drop(unsigned);
    let signed_at = started.elapsed();

    let header = format!(
        "zone {} signed by rampart sign-zone from {file}",
        wire::name::to_text(&apex)
    );
    zone::text::write_zone_file(&a.out, &apex, &outcome.records, &header)
        .map_err(|e| format!("{}: {e}", a.out.display()))?;
    let total = started.elapsed();
    Ok(format!(
        "{}: {records_in} records in, {} out, {} signatures made, {:.3} s \
         (load {:.3}, sign {:.3}, write {:.3})",
        a.out.display(),
        outcome.records.len(),
        outcome.made,
        total.as_secs_f64(),
        loaded_at.as_secs_f64(),
        (signed_at - loaded_at).as_secs_f64(),
        (total - signed_at).as_secs_f64(),
    ))
}
