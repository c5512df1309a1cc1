//! The replication service: the state of every zone that transfers,
//! updates and the journal work on, shared by the query path (transfers
//! out, UPDATE, NOTIFY in), the control loop (reloads, flushes, the
//! console), the secondaries' refresh threads and the notifier.
//!
//! Each zone is an [`Entry`] behind its own mutex: its records as a set,
//! the compiled zone being served, the journal and the changes since
//! genesis (the source of IXFR). Every change goes the same way
//! ([`Service::commit`]): checked by compiling it, made durable in the
//! journal, then published to the query path and notified.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use zone::records::{diff, serial_gt, soa_serial, with_serial, Record, RecordSet};
use zone::{Zone, ZoneState};

use crate::journal::{self, Change, Journal};
use crate::settings::{Replication, ZoneSettings};

/// How the query path learns of a new version of a zone.
pub trait Publish: Send + Sync {
    fn publish(&self, apex: &[u8], state: ZoneState);
}

/// A zone as the configuration declares it.
#[derive(Clone, Debug)]
pub struct ZoneInfo {
    /// As written in the config.
    pub name: String,
    /// Lowercase wire form.
    pub apex: Box<[u8]>,
    pub file: Option<PathBuf>,
}

/// Primary (served from its file and updates) or secondary (pulled).
#[derive(Clone, Debug)]
pub(crate) enum Role {
    Primary,
    Secondary(crate::secondary::Handle),
}

/// One zone's replication state.
pub(crate) struct Entry {
    /// Presentation form, absolute, for messages.
    pub name: String,
    pub apex: Box<[u8]>,
    pub file: Option<PathBuf>,
    pub role: Role,
    pub records: Arc<RecordSet>,
    /// What is served; `None` for a secondary without data (SERVFAIL).
    pub zone: Option<Arc<Zone>>,
    pub serial: u32,
    /// The zone file's content as last read or written: a reload applies
    /// only what the operator changed since, on top of updates.
    pub file_state: Arc<RecordSet>,
    /// Changes after genesis, oldest first: the source of IXFR.
    pub history: Vec<Arc<Change>>,
    pub journal: Option<Journal>,
    /// Why there is no journal, when it could not be opened.
    pub journal_error: Option<String>,
    /// Records changed since the zone file was written.
    pub dirty_since: Option<Instant>,
    pub settings: ZoneSettings,
    /// One line for `showZones()`: the last refresh, transfer progress…
    pub status: String,
    /// Bumped by every NOTIFY round: older rounds still retrying stop.
    pub notify_round: Arc<std::sync::atomic::AtomicU64>,
    /// DNSSEC signing, for a zone its policy signs.
    pub signing: crate::signing::Signing,
}

impl Entry {
    /// The SOA record of the current version.
    pub fn soa(&self) -> Option<Record> {
        self.records.soa(&self.apex)
    }
}

/// Why a change was not made ([`Service::commit`]): the zone keeps its
/// version. The texts are the ones operators see in the log.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The next version breaks the zone's rules (it does not compile, as
    /// a zone file with it would not): a CNAME beside other data, two
    /// DNAMEs at a name… An update making it is REFUSED.
    #[error("change from {origin} refused: {err}")]
    Refused {
        /// Who made the change ("update by …", "zone file …").
        origin: String,
        err: zone::SourceError,
    },
    /// The journal could not make the change durable: the server's
    /// fault, not the change's (an update gets SERVFAIL).
    #[error("journal write failed, change from {origin} not made: {err}")]
    JournalWrite {
        origin: String,
        err: journal::JournalError,
    },
    /// The zone's policy signs it and it could not be signed (its keys
    /// are missing or unreadable…).
    #[error("not signed: {0}")]
    NotSigned(#[from] dnssec::DnssecError),
}

/// Changes kept in memory per zone for IXFR.
const MAX_HISTORY: usize = 10_000;

/// An entry shared by the threads that work on its zone.
pub(crate) type SharedEntry = Arc<Mutex<Entry>>;

/// Replication for all zones.
#[derive(Default)]
pub struct Service {
    settings: RwLock<Arc<Replication>>,
    zones: Mutex<BTreeMap<Box<[u8]>, SharedEntry>>,
    publisher: OnceLock<Box<dyn Publish>>,
    /// Set once the query path can take publications: secondaries and
    /// notifies wait for it.
    started: OnceLock<()>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One zone as [`Service::zone_status`] reports it.
#[derive(Clone, Debug)]
pub struct ZoneStatus {
    pub name: String,
    pub role: &'static str,
    pub serial: u32,
    pub records: usize,
    /// Changes kept in the journal's history (what IXFR can serve).
    pub changes: usize,
    /// Whether it is being served (a secondary before its first
    /// transfer, or a zone whose file was refused, is not).
    pub loaded: bool,
    pub status: String,
    /// For a zone signed here.
    pub dnssec: Option<SigningHealth>,
}

/// How a zone's signing goes, for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct SigningHealth {
    /// No error stops it.
    pub working: bool,
    /// When the next refresh or key event is due (Unix seconds; `u64::MAX`:
    /// none).
    pub next_refresh: u64,
    /// Signatures made since the process started.
    pub made: u64,
}

impl Service {
    pub fn new() -> Arc<Service> {
        Arc::new(Service::default())
    }

    /// Takes the settings of a (re)loaded configuration.
    pub fn configure(&self, settings: &Replication) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings.clone());
        for entry in self.entries() {
            let mut e = lock(&entry);
            e.settings = settings.zone(&e.apex);
            if matches!(e.role, Role::Secondary(_)) {
                // A secondary serves its primary's serials, never its own.
                e.settings.serial_policy = zone::records::SerialPolicy::Keep;
            }
        }
    }

    pub fn settings(&self) -> Arc<Replication> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Connects the query path; from now on secondaries refresh and
    /// changes are published as they happen.
    pub fn start(self: &Arc<Self>, publisher: Box<dyn Publish>) {
        let _ = self.publisher.set(publisher);
        let _ = self.started.set(());
        for entry in self.entries() {
            if let Role::Secondary(h) = &lock(&entry).role {
                h.wake();
            }
        }
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started.get().is_some()
    }

    pub(crate) fn entry(&self, apex: &[u8]) -> Option<Arc<Mutex<Entry>>> {
        lock(&self.zones).get(apex).cloned()
    }

    /// Every entry, taken out of the zones lock: an entry busy with a
    /// long change must not hold up lookups of the others.
    pub(crate) fn entries(&self) -> Vec<SharedEntry> {
        lock(&self.zones).values().cloned().collect()
    }

    /// Puts a zone's version into the served snapshot.
    pub fn publish(&self, apex: &[u8], state: ZoneState) {
        if let Some(p) = self.publisher.get() {
            p.publish(apex, state);
        }
    }

    /// Where the journal of `apex` lives: the journal directory, or
    /// beside the zone file.
    pub fn journal_path(&self, apex: &[u8], file: Option<&Path>) -> Option<PathBuf> {
        let dir = match (&self.settings().journal_dir, file) {
            (Some(d), _) => d.clone(),
            (None, Some(f)) => f.parent().map(Path::to_path_buf).unwrap_or_default(),
            (None, None) => return None,
        };
        Some(journal::path_for(&dir, apex))
    }

    /// Forgets zones no longer configured (their secondaries stop).
    pub fn retain(&self, apexes: &[Box<[u8]>]) {
        let gone: Vec<SharedEntry> = {
            let mut zones = lock(&self.zones);
            let dropped: Vec<Box<[u8]>> = zones
                .keys()
                .filter(|apex| !apexes.iter().any(|a| a == *apex))
                .cloned()
                .collect();
            dropped.iter().filter_map(|a| zones.remove(a)).collect()
        };
        for entry in gone {
            if let Role::Secondary(h) = &lock(&entry).role {
                h.stop();
            }
        }
    }

    /// A primary zone's file was (re)loaded into `loaded`: returns what to
    /// serve. The first time, the journal is opened (or started with a
    /// genesis block) and what the file changed since the journal's last
    /// block is added as a change; on a reload, what the operator changed
    /// in the file since it was last read or written is applied on top
    /// of the updates made meanwhile, with the serial bumped as the
    /// zone's policy says when the operator did not.
    pub fn primary_loaded(&self, info: &ZoneInfo, loaded: Zone) -> Result<Arc<Zone>, String> {
        let settings = self.settings().zone(&info.apex);
        let existing = self.entry(&info.apex);
        // A zone that neither transfers nor takes updates, with no journal
        // asked for, is served as loaded: no record set kept beside it.
        let s = &settings;
        // A zone signed here keeps its records for re-signing.
        let replicates = !s.update.is_empty()
            || !s.transfer.is_empty()
            || !s.also_notify.is_empty()
            || s.dnssec.is_some();
        if existing.is_none() && !replicates && self.settings().journal_dir.is_none() {
            return Ok(Arc::new(loaded));
        }
        let mut file_set = RecordSet::from_zone(&loaded);
        if settings.dnssec.is_some() {
            // The signer owns DNSKEY, RRSIG, NSEC…: what the file has of
            // them is replaced, so it is not part of the operator's data.
            file_set = dnssec::unsigned_view(&file_set);
        }
        let source = match &info.file {
            Some(f) => format!("zone file {}", f.display()),
            None => "zone file".to_string(),
        };
        if let Some(entry) = existing {
            let mut e = lock(&entry);
            if matches!(e.role, Role::Primary) {
                e.settings = settings;
                e.file = info.file.clone();
                if file_set == *e.file_state {
                    if let Some(z) = &e.zone {
                        return Ok(z.clone());
                    }
                }
                let base = e.file_state.clone();
                let next = merge(
                    &e.records,
                    &base,
                    &file_set,
                    &e.apex,
                    e.settings.serial_policy,
                );
                // The operator's own edit is in the file already (a bumped
                // serial lives in the journal): the file is rewritten only
                // if updates were waiting to be written.
                let waiting = e.dirty_since;
                self.commit(&mut e, next, &source)
                    .map_err(|err| err.to_string())?;
                e.dirty_since = waiting;
                e.file_state = Arc::new(file_set);
                return e.zone.clone().ok_or_else(|| {
                    format!(
                        "zone {}: its journal's version does not compile (logged above); \
                             not served until a reload compiles",
                        e.name
                    )
                });
            }
            // Was a secondary: start over as a primary below.
            if let Role::Secondary(h) = &e.role {
                h.stop();
            }
        }

        let serial = loaded.serial;
        let mut entry = Entry {
            name: wire::name::to_text(&info.apex),
            apex: info.apex.clone(),
            file: info.file.clone(),
            role: Role::Primary,
            records: Arc::new(file_set.clone()),
            zone: Some(Arc::new(loaded)),
            serial,
            file_state: Arc::new(file_set),
            history: Vec::new(),
            journal: None,
            journal_error: None,
            dirty_since: None,
            settings,
            status: String::new(),
            notify_round: Arc::default(),
            signing: Default::default(),
        };
        self.attach_journal(&mut entry, &source);
        if entry.signing.last.is_none() && entry.signing.error.is_none() {
            // No journal to start from (or none could be opened): signed
            // all the same, its history starting here.
            self.sign_loaded(&mut entry, &source);
        }
        let zone = entry.zone.clone().ok_or_else(|| {
            format!(
                "zone {}: its journal's version does not compile (logged above); not served",
                entry.name
            )
        })?;
        lock(&self.zones).insert(info.apex.clone(), Arc::new(Mutex::new(entry)));
        Ok(zone)
    }

    /// Opens the journal of a new entry and reconciles it with the
    /// records the entry was created from (a zone file, or a secondary's
    /// saved copy). A journal that cannot be used is logged and the zone
    /// served without one: updates are then refused.
    pub(crate) fn attach_journal(&self, entry: &mut Entry, source: &str) {
        let Some(path) = self.journal_path(&entry.apex, entry.file.as_deref()) else {
            entry.journal_error = Some("no journal directory and no zone file".into());
            return;
        };
        if let Some(dir) = path.parent() {
            // setJournalDir names a directory that may not exist yet.
            let _ = std::fs::create_dir_all(dir);
        }
        let (mut journal, opened) = match Journal::open(&path) {
            Ok(x) => x,
            Err(e) => {
                let msg = format!(
                    "zone {}: journal unusable, serving without history (updates refused): {e}",
                    entry.name
                );
                log::error!("{msg}");
                entry.journal_error = Some(e.to_string());
                return;
            }
        };
        if let Some(r) = &opened.recovered {
            log::warn!("zone {}: {r}", entry.name);
        }
        if opened.blocks.is_empty() {
            self.sign_loaded(entry, source);
            let genesis = Change {
                serial_before: entry.serial,
                serial_after: entry.serial,
                removed: Vec::new(),
                added: soa_first(entry.records.iter().collect(), &entry.apex),
                time: unix_now(),
                source: format!("genesis from {source}"),
            };
            if let Err(e) = journal.append(genesis) {
                log::error!("zone {}: cannot start the journal: {e}", entry.name);
                entry.journal_error = Some(e.to_string());
                return;
            }
            entry.journal = Some(journal);
            return;
        }
        let current = match journal::replay_set(&opened.blocks) {
            Ok(set) => set,
            Err(e) => {
                log::error!(
                    "zone {}: journal {} does not replay ({e}); serving without history",
                    entry.name,
                    path.display()
                );
                entry.journal_error = Some(e.to_string());
                return;
            }
        };
        entry.journal = Some(journal);
        // The file may be behind the journal (updates not yet written
        // back when the process stopped), ahead of it (edited while
        // stopped), or both: what changed in the file since the version
        // of the journal with the file's serial is applied to the
        // journal's last version.
        let file_set = entry.records.clone();
        let file_serial = entry.serial;
        let mut base =
            file_base(&opened.blocks, &file_set, file_serial).unwrap_or_else(|| current.clone());
        if entry.settings.dnssec.is_some() {
            // The journal's versions are signed, the file is not.
            base = dnssec::unsigned_view(&base);
        }
        // The last MAX_HISTORY changes are kept for IXFR, moved out of
        // the blocks rather than copied.
        let changes = opened.blocks.iter().filter(|b| !b.is_genesis()).count();
        entry.history = opened
            .blocks
            .into_iter()
            .filter(|b| !b.is_genesis())
            .skip(changes.saturating_sub(MAX_HISTORY))
            .map(|b| Arc::new(b.change))
            .collect();
        let next = merge(
            &current,
            &base,
            &file_set,
            &entry.apex,
            entry.settings.serial_policy,
        );
        entry.records = Arc::new(current);
        entry.serial = entry
            .records
            .soa(&entry.apex)
            .and_then(|s| soa_serial(&s.rdata))
            .unwrap_or(file_serial);
        match entry
            .records
            .to_zone(&entry.apex, &format!("journal {}", path.display()))
        {
            Ok((z, _)) => entry.zone = Some(Arc::new(z)),
            Err(e) => {
                // Nothing compiled from these records: the next change
                // compiles whole instead of patching the file's version.
                entry.zone = None;
                log::error!(
                    "zone {}: the journal's version does not compile: {e}",
                    entry.name
                );
            }
        }
        if let Err(e) = self.commit(entry, next, source) {
            log::error!("zone {}: {e}", entry.name);
        }
        let written = if entry.settings.dnssec.is_some() {
            dnssec::unsigned_view(&entry.records)
        } else {
            (*entry.records).clone()
        };
        if written != *file_set {
            // The file is behind: write it back on the next flush.
            entry.dirty_since.get_or_insert_with(Instant::now);
        }
    }

    /// Makes `next` the zone's version: compiled (the checks of a zone
    /// file), journaled durably, then published and notified. Nothing
    /// happens when `next` equals the current version.
    pub(crate) fn commit(
        &self,
        e: &mut Entry,
        next: RecordSet,
        source: &str,
    ) -> Result<bool, CommitError> {
        let next = self.signed_version(e, next)?;
        let (removed, added) = diff(&e.records, &next);
        if removed.is_empty() && added.is_empty() {
            return Ok(false);
        }
        let old = std::mem::replace(&mut e.records, Arc::new(next));
        self.commit_applied(e, &removed, &added, source)
            .inspect_err(|_| e.records = old)
    }

    /// Makes the change `removed` → `added` (each a net difference, SOA
    /// first) to the zone's records in place, then as [`Service::commit`]:
    /// what an update costs is what it changes, not the zone's size.
    pub(crate) fn commit_delta(
        &self,
        e: &mut Entry,
        removed: Vec<Record>,
        added: Vec<Record>,
        source: &str,
    ) -> Result<bool, CommitError> {
        if removed.is_empty() && added.is_empty() {
            return Ok(false);
        }
        if e.settings.dnssec.is_some() {
            // Signing needs the whole next version.
            let mut next = (*e.records).clone();
            let _ = next.apply(&removed, &added);
            return self.commit(e, next, source);
        }
        // A copy only when a transfer out is reading the set right now.
        let swap = |e: &mut Entry, out: &[Record], into: &[Record]| {
            // A removal of what is not here changes nothing: an update's
            // own prescan dropped those.
            let _ = Arc::make_mut(&mut e.records).apply(out, into);
        };
        swap(e, &removed, &added);
        self.commit_applied(e, &removed, &added, source)
            .inspect_err(|_| swap(e, &added, &removed))
    }

    /// The common end of a change whose records are already in
    /// `e.records`: compile (patching the served zone by the names
    /// touched, else whole), journal durably, then serve and notify.
    fn commit_applied(
        &self,
        e: &mut Entry,
        removed: &[Record],
        added: &[Record],
        source: &str,
    ) -> Result<bool, CommitError> {
        let refused = |err: zone::SourceError| CommitError::Refused {
            origin: source.to_string(),
            err,
        };
        let owners: BTreeSet<Box<[u8]>> = removed
            .iter()
            .chain(added)
            .map(|r| r.owner.clone())
            .collect();
        let patched = match &e.zone {
            Some(z) => zone::patch::patch(z, &e.records, &owners, source).map_err(refused)?,
            None => None,
        };
        let (zone, warnings) = match patched {
            Some(done) => done,
            None => e.records.to_zone(&e.apex, source).map_err(refused)?,
        };
        for w in warnings {
            log::warn!("{w}");
        }
        let serial_after = zone.serial;
        let change = Change {
            serial_before: e.serial,
            serial_after,
            removed: removed.to_vec(),
            added: added.to_vec(),
            time: unix_now(),
            source: source.to_string(),
        };
        if let Some(j) = &mut e.journal {
            j.append(change.clone())
                .map_err(|err| CommitError::JournalWrite {
                    origin: source.to_string(),
                    err,
                })?;
        }
        log::info!(
            "zone {}: serial {} -> {} ({} removed, {} added) from {source}",
            e.name,
            e.serial,
            serial_after,
            change.removed.len(),
            change.added.len()
        );
        let zone = Arc::new(zone);
        e.zone = Some(zone.clone());
        e.serial = serial_after;
        e.history.push(Arc::new(change));
        // IXFR reaches back this far; older clients get the whole zone
        // (the journal on disk keeps everything).
        if e.history.len() > MAX_HISTORY {
            let excess = e.history.len() - MAX_HISTORY;
            e.history.drain(..excess);
        }
        e.dirty_since.get_or_insert_with(Instant::now);
        self.publish(&e.apex, ZoneState::Ready(zone));
        crate::notify::send(self, e);
        Ok(true)
    }

    /// Writes zones changed by updates or transfers back to their files
    /// once they have been changed for the flush interval (or at once
    /// with `force`). Never on the query path: the control loop calls it.
    /// Each file written (or not) is logged; the same lines are returned
    /// for the console's `flushZones()`.
    pub fn flush(&self, force: bool) -> Vec<String> {
        let interval = Duration::from_secs(self.settings().flush_interval_secs.max(1));
        let mut done = Vec::new();
        for entry in self.entries() {
            // The records are taken and the lock let go while the file is
            // written: updates and transfers out must not wait for a
            // large zone's file.
            let (current, records, file, apex, name, serial) = {
                let e = lock(&entry);
                let Some(since) = e.dirty_since else { continue };
                if !force && since.elapsed() < interval {
                    continue;
                }
                let Some(file) = e.file.clone() else { continue };
                // A signed zone's file keeps the operator's records; the
                // signatures live in the journal (BIND's inline signing
                // keeps them apart the same way).
                let records = if e.settings.dnssec.is_some() {
                    Arc::new(dnssec::unsigned_view(&e.records))
                } else {
                    e.records.clone()
                };
                (
                    e.records.clone(),
                    records,
                    file,
                    e.apex.clone(),
                    e.name.clone(),
                    e.serial,
                )
            };
            let header = format!("zone {name} serial {serial} written by rampart from its journal");
            if let Err(err) = zone::text::write_zone_file(&file, &apex, &records, &header) {
                let line = format!("zone {name}: cannot write {}: {err}", file.display());
                log::error!("{line}");
                done.push(line);
                continue;
            }
            // The file's own copy: sharing the records' Arc would make the
            // next update copy the whole zone to change it.
            let file_state = Arc::new((*records).clone());
            let mut e = lock(&entry);
            e.file_state = file_state;
            if Arc::ptr_eq(&e.records, &current) {
                e.dirty_since = None;
            }
            let line = format!("zone {name}: serial {serial} written to {}", file.display());
            log::info!("{line}");
            done.push(line);
        }
        done
    }

    /// Every zone's role, serial, size and status (`showZones()`, the
    /// web API and the metrics).
    pub fn zone_status(&self) -> Vec<ZoneStatus> {
        self.entries()
            .iter()
            .map(|entry| {
                let e = lock(entry);
                let mut status = e.status.clone();
                if let Some(err) = &e.journal_error {
                    status = format!("no journal: {err} {status}");
                }
                if e.dirty_since.is_some() {
                    status.push_str(" (file not yet written)");
                }
                ZoneStatus {
                    name: e.name.clone(),
                    role: match e.role {
                        Role::Primary => "primary",
                        Role::Secondary(_) => "secondary",
                    },
                    serial: e.serial,
                    records: e.records.len(),
                    changes: e.history.len(),
                    loaded: e.zone.is_some(),
                    status: status.trim().to_string(),
                    dnssec: e.settings.dnssec.as_ref().map(|_| SigningHealth {
                        working: e.signing.error.is_none(),
                        next_refresh: e.signing.next_resign,
                        made: e.signing.made_total,
                    }),
                }
            })
            .collect()
    }

    /// `showZones()`: one line per zone.
    pub fn show_zones(&self) -> String {
        let mut out = format!(
            "{:<30} {:<9} {:>10} {:>9} {:>7}  {}\n",
            "Zone", "Role", "Serial", "Records", "Changes", "Status"
        );
        for z in self.zone_status() {
            out.push_str(&format!(
                "{:<30} {:<9} {:>10} {:>9} {:>7}  {}\n",
                z.name, z.role, z.serial, z.records, z.changes, z.status
            ));
        }
        out.pop();
        out
    }

    /// Every zone's current state, to publish again after a reload
    /// (a change made while the reload was building must not be lost).
    pub fn states(&self) -> Vec<(Box<[u8]>, ZoneState)> {
        self.entries()
            .iter()
            .map(|entry| {
                let e = lock(entry);
                let state = match &e.zone {
                    Some(z) => ZoneState::Ready(z.clone()),
                    None => ZoneState::Broken(e.status.clone().into()),
                };
                (e.apex.clone(), state)
            })
            .collect()
    }

    /// Makes a secondary refresh now; false when `apex` is no secondary.
    pub fn refresh_now(&self, apex: &[u8]) -> bool {
        let Some(entry) = self.entry(apex) else {
            return false;
        };
        let e = lock(&entry);
        match &e.role {
            Role::Secondary(h) => {
                h.wake();
                true
            }
            Role::Primary => false,
        }
    }

    /// Answers a message the query path hands over from TCP: UPDATE,
    /// NOTIFY, or a transfer (several messages).
    pub fn answer_tcp(&self, packet: &[u8], client: std::net::SocketAddr) -> Option<Vec<Vec<u8>>> {
        let opcode = (packet.get(2)? >> 3) & 0xf;
        match opcode {
            wire::types::opcode::UPDATE => self.update(packet, client).map(|m| vec![m]),
            wire::types::opcode::NOTIFY => self.notify_in(packet, client).map(|m| vec![m]),
            _ => self.transfer(packet, client, None).map(|t| t.messages),
        }
    }

    /// Whether this service holds the zone at `apex` (lowercase wire).
    pub fn holds(&self, apex: &[u8]) -> bool {
        lock(&self.zones).contains_key(apex)
    }

    pub(crate) fn insert_entry(&self, entry: Entry) -> Arc<Mutex<Entry>> {
        let apex = entry.apex.clone();
        let arc = Arc::new(Mutex::new(entry));
        lock(&self.zones).insert(apex, arc.clone());
        arc
    }
}

/// `current` with what changed from `base` to `file` applied: the
/// operator's edits on top of whatever updates made. The SOA is handled
/// apart: its fields come from the file when the file changed them, and
/// the serial is the file's when newer, else bumped by `policy` if
/// anything changed.
pub(crate) fn merge(
    current: &RecordSet,
    base: &RecordSet,
    file: &RecordSet,
    apex: &[u8],
    policy: zone::records::SerialPolicy,
) -> RecordSet {
    let (removed, added) = diff(base, file);
    let mut next = current.clone();
    let soa_type = wire::types::rtype::SOA;
    let mut changed = false;
    for r in removed.iter().filter(|r| r.rtype != soa_type) {
        changed |= next.remove(r);
    }
    for r in added.iter().filter(|r| r.rtype != soa_type) {
        changed |= next.insert(r.clone());
    }
    let cur_soa = current.soa(apex);
    let file_soa = file.soa(apex);
    let base_soa = base.soa(apex);
    let (Some(cur_soa), Some(file_soa)) = (cur_soa, file_soa) else {
        return next;
    };
    let cur_serial = soa_serial(&cur_soa.rdata).unwrap_or(0);
    let file_serial = soa_serial(&file_soa.rdata).unwrap_or(0);
    // Fields other than the serial: the file's if the operator changed
    // them (compared with the serial set aside).
    let same_fields = |a: &Record, b: &Record| {
        a.ttl == b.ttl && with_serial(&a.rdata, 0) == with_serial(&b.rdata, 0)
    };
    let mut soa = match &base_soa {
        Some(b) if same_fields(b, &file_soa) => cur_soa.clone(),
        _ => file_soa.clone(),
    };
    let content_changed = changed || !same_fields(&soa, &cur_soa);
    let serial = if serial_gt(file_serial, cur_serial) {
        file_serial
    } else if content_changed {
        policy.next(cur_serial, unix_now())
    } else {
        cur_serial
    };
    if let Some(rdata) = with_serial(&soa.rdata, serial) {
        soa.rdata = rdata;
    }
    next.remove(&cur_soa);
    next.insert(soa);
    next
}

/// The journal's version the zone file was last written from (or read
/// as): among the versions with the file's serial, the one equal to the
/// file, else the earliest. Under the `keep` serial policy several
/// versions share a serial; taking the last would read updates made
/// after the file was written as the operator's deletions.
fn file_base(blocks: &[journal::Block], file: &RecordSet, serial: u32) -> Option<RecordSet> {
    let mut state = RecordSet::new();
    let mut earliest = None;
    for b in blocks {
        // Blocks that do not replay were refused on opening.
        let _ = state.apply(&b.change.removed, &b.change.added);
        if b.change.serial_after == serial {
            if state == *file {
                return Some(state);
            }
            earliest.get_or_insert_with(|| state.clone());
        }
    }
    earliest
}

/// Records with the apex SOA first (a genesis block reads like AXFR).
/// The SOA serial of a version.
pub(crate) fn signed_serial(set: &RecordSet, apex: &[u8]) -> Option<u32> {
    set.soa(apex).and_then(|s| soa_serial(&s.rdata))
}

pub(crate) fn soa_first(mut records: Vec<Record>, apex: &[u8]) -> Vec<Record> {
    records.sort_by_key(|r| !(r.rtype == wire::types::rtype::SOA && *r.owner == *apex));
    records
}

#[cfg(test)]
mod tests {
    use zone::records::{Record, RecordSet};

    use crate::journal::{Block, Change};

    fn a(name: &str) -> Record {
        Record {
            owner: zone::parse_name(name).unwrap().into_boxed_slice(),
            rtype: 1,
            ttl: 60,
            rdata: [192, 0, 2, 1].into(),
        }
    }

    fn block(seq: u64, before: u32, after: u32, removed: Vec<Record>, added: Vec<Record>) -> Block {
        Block {
            seq,
            change: Change {
                serial_before: before,
                serial_after: after,
                removed,
                added,
                time: 0,
                source: String::new(),
            },
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    /// Under the `keep` policy an update leaves the serial alone: the
    /// file written before it must be matched with the version it was
    /// written from, not the last one with its serial (that would read
    /// the update as the operator deleting it).
    #[test]
    fn the_file_base_is_the_version_the_file_holds() {
        let blocks = vec![
            block(0, 5, 5, vec![], vec![a("x.example.test")]),
            block(1, 5, 5, vec![], vec![a("y.example.test")]),
        ];
        let file: RecordSet = [a("x.example.test")].into_iter().collect();
        let base = super::file_base(&blocks, &file, 5).unwrap();
        assert_eq!(base, file);
        // A file matching no version: the earliest with its serial.
        let edited: RecordSet = [a("z.example.test")].into_iter().collect();
        let base = super::file_base(&blocks, &edited, 5).unwrap();
        assert_eq!(base, file);
        assert!(super::file_base(&blocks, &edited, 6).is_none());
    }
}
