//! Reading the zone list of a BIND-style `named.conf`, as PowerDNS's bind
//! backend does.
//!
//! What is read: `options { directory "…"; };`, `include "…";` and
//! `zone "name" [class] { type …; file "…"; masters|primaries { … };
//! also-notify { … }; };`, and what the other modules here read from it
//! (keys, ACLs, update-policy, rate-limit, dnssec-policy). Every other
//! statement and option is skipped with a note, so a full BIND
//! configuration loads. Relative zone files
//! resolve against `directory` (itself relative to the named.conf's own
//! directory), or the named.conf's directory when there is none.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A zone's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    Primary,
    Secondary,
    /// No `type` given: served from its file, no transfers (PowerDNS's
    /// "native").
    Native,
}

/// One `zone` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedZone {
    /// As written (without quotes).
    pub name: String,
    pub kind: ZoneKind,
    /// Resolved zone file path.
    pub file: Option<PathBuf>,
    /// `masters`/`primaries` addresses (as written, `port N` folded in).
    pub primaries: Vec<String>,
    pub also_notify: Vec<String>,
    /// The key named on a primary (`primaries { 192.0.2.1 key k; };`).
    pub primary_key: Option<String>,
    /// Per primary (same order), the `tls NAME` it is reached with
    /// (`primaries { 192.0.2.1 port 853 tls NAME; };`, RFC 9103 XoT).
    pub primary_tls: Vec<Option<String>>,
    /// `allow-transfer` items as written: addresses, netmasks, `key K`,
    /// `any`, `none`.
    pub allow_transfer: Vec<String>,
    /// `allow-update` items, as `allow_transfer`.
    pub allow_update: Vec<String>,
    /// `update-policy { grant … }` rules.
    pub update_policy: Vec<Grant>,
    /// `dnssec-policy NAME;` (with `file:line`), and `inline-signing`.
    pub dnssec_policy: Option<(String, String)>,
    pub inline_signing: Option<bool>,
    /// `key-directory "…";` of the zone (resolved like zone files).
    pub key_directory: Option<PathBuf>,
    /// `parental-agents { … };`: whom to ask for the zone's DS.
    pub parental_agents: Vec<String>,
    /// Where the statement is, for messages.
    pub source: String,
}

/// One `grant KEY RULE [NAME] [TYPES…];` of an `update-policy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub key: String,
    /// `name`, `subdomain`, `zonesub` or `wildcard`.
    pub rule: String,
    /// The name the rule takes (absent for `zonesub`).
    pub name: Option<String>,
    pub types: Vec<String>,
    /// `file:line`, for messages.
    pub source: String,
}

/// A `tls NAME { ca-file "…"; remote-hostname "…"; … };` statement (BIND
/// 9.18): how a primary is reached over TLS. `cert-file`, `key-file` and
/// the rest (a listener's side) are kept out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedTls {
    pub name: String,
    /// Resolved like zone files; None: the system store.
    pub ca_file: Option<PathBuf>,
    pub remote_hostname: Option<String>,
    /// `protocols { TLSv1.3; };` as written.
    pub protocols: Vec<String>,
    pub source: String,
}

/// A `key "name" { algorithm A; secret "S"; };` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedKey {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
    pub source: String,
}

/// An option of `options { … }` that another crate interprets (the
/// shield's `rate-limit { … }` and cookie options), as written: its name
/// in lowercase, the words after it, the statements of its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOption {
    pub name: String,
    pub values: Vec<String>,
    pub block: Vec<ServerOption>,
    /// `file:line`, for messages.
    pub source: String,
}

/// The `options` read as [`ServerOption`]s.
pub const SERVER_OPTIONS: &[&str] = &[
    "rate-limit",
    "answer-cookie",
    "cookie-secret",
    "cookie-algorithm",
    "require-server-cookie",
];

/// The parts of a named.conf rampart uses.
#[derive(Clone, Debug, Default)]
pub struct NamedConf {
    pub directory: Option<PathBuf>,
    /// `rate-limit` and the cookie options, in order.
    pub server_options: Vec<ServerOption>,
    pub zones: Vec<NamedZone>,
    pub keys: Vec<NamedKey>,
    /// `tls` statements (BIND's built-in `ephemeral` is not among them).
    pub tls: Vec<NamedTls>,
    /// `dnssec-policy "name" { … };` statements, as written.
    pub dnssec_policies: Vec<ServerOption>,
    /// `options { dnssec-policy NAME; }`: the zones' default (`file:line`).
    pub default_dnssec_policy: Option<(String, String)>,
    /// `options { key-directory "…"; }`, resolved like zone files; else
    /// the `directory` (BIND's default), once read from a file.
    pub key_directory: Option<PathBuf>,
    /// What was skipped, for the log.
    pub notes: Vec<String>,
}

/// An error with its place, and the errors found after it.
///
/// A file is read to its end so that every statement in error is named
/// at once, as `named-checkconf` does: `further` holds the ones after
/// the first (up to [`MAX_LISTED_ERRORS`] in all). A syntax error
/// (an unbalanced brace, an unclosed quote, a missing `;`) ends the
/// reading there: what follows cannot be told apart into statements.
#[derive(Clone, Debug)]
pub struct ConfError {
    pub file: PathBuf,
    /// Line in `file`, from 1; 0 for errors about the whole file.
    pub line: u32,
    /// What is wrong; its `Display` is the message after `file:line: `.
    pub kind: ConfErrorKind,
    pub further: Vec<ConfError>,
    /// Errors found past [`MAX_LISTED_ERRORS`], counted, not listed.
    pub more: usize,
}

/// What is wrong in a named.conf: the kind of a [`ConfError`]. The texts
/// are the ones operators see after `file:line: `.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfErrorKind {
    /// The file (the named.conf or one it includes) cannot be read.
    #[error("cannot read: {source}")]
    Read { source: Arc<std::io::Error> },

    // Syntax: each ends the reading of its file.
    /// A `}` with no `{` open.
    #[error("unbalanced '}}': no '{{' is open")]
    UnopenedBrace,
    /// The file ends inside a block.
    #[error("the file ends inside a '{{ … }}' block: expected '}}'")]
    UnclosedBlock,
    /// Blocks nested deeper than BIND's grammar needs.
    #[error("blocks nested more than {MAX_DEPTH} deep: expected '}}'")]
    TooDeep,
    /// A statement's words not ended by `;` (`after`: its words).
    #[error("expected ';' after '{after}'")]
    MissingSemicolon { after: String },
    /// A `/*` comment never closed.
    #[error("comment '/*' not closed: expected '*/'")]
    UnclosedComment,
    /// A quoted string still open at the end of its line.
    #[error("quoted string not closed before the end of the line")]
    QuoteOpenAtLineEnd,
    /// A quoted string still open at the end of the file.
    #[error("quoted string not closed")]
    QuoteOpenAtFileEnd,

    // Statements.
    /// A statement or option not written as its grammar says; `form`
    /// is that grammar (`directory "path";`).
    #[error("expected '{form}'")]
    Usage { form: String },
    /// `include`s nested deeper than 8: most likely a loop.
    #[error("includes nested too deep (a loop?)")]
    IncludeTooDeep,
    /// A zone of a class other than IN.
    #[error("zone class '{class}' is not served: expected IN")]
    ZoneClass { class: String },
    /// A `zone` or `tls` statement without its block (`statement`:
    /// `zone "name"`, `tls name`).
    #[error("{statement} has no {{ … }} block")]
    NoBlock { statement: String },
    /// A zone `type` other than primary, secondary (or their old names)
    /// and native.
    #[error("zone \"{zone}\": expected type master, primary, slave or secondary, found {found}")]
    ZoneType { zone: String, found: String },
    /// A `tls` statement named as one of BIND's built-ins.
    #[error("tls {name}: the name is BIND's built-in")]
    TlsBuiltin { name: String },
    /// A `key` without its algorithm or secret.
    #[error("key \"{name}\": expected both 'algorithm' and 'secret'")]
    KeyIncomplete { name: String },
    /// `update-policy local;` (or no block): it needs BIND's session key.
    #[error(
        "update-policy: expected '{{ grant KEY RULE [NAME] [TYPES]; }}' (\"local\" needs \
         BIND's session key, which rampart does not have)"
    )]
    UpdatePolicyLocal,
    /// An `update-policy` statement other than `grant` (deny…).
    #[error("update-policy: expected 'grant', found '{found}' (deny is not supported)")]
    NotGrant { found: String },
    /// A `grant` without its key and rule.
    #[error("update-policy: expected 'grant KEY RULE …'")]
    GrantSyntax,
    /// A grant rule that takes a name, without one.
    #[error("update-policy: '{rule}' needs a name")]
    GrantNeedsName { rule: String },
    /// A grant rule other than name, subdomain, wildcard or zonesub.
    #[error(
        "update-policy: rule '{rule}' is not supported: expected name, subdomain, wildcard \
         or zonesub"
    )]
    UnsupportedRule { rule: String },
}

impl ConfErrorKind {
    fn usage(form: impl Into<String>) -> ConfErrorKind {
        ConfErrorKind::Usage { form: form.into() }
    }
}

/// The errors of one named.conf listed at most.
pub const MAX_LISTED_ERRORS: usize = 100;

impl ConfError {
    fn at(file: &Path, line: u32, kind: ConfErrorKind) -> ConfError {
        ConfError {
            file: file.to_path_buf(),
            line,
            kind,
            further: Vec::new(),
            more: 0,
        }
    }

    /// This error and the further ones, each alone, in file order.
    pub fn all(&self) -> impl Iterator<Item = &ConfError> {
        std::iter::once(self).chain(self.further.iter())
    }

    /// One error made of `errors` (file order), `None` if there are none.
    fn gather(errors: Vec<ConfError>) -> Option<ConfError> {
        // An included file's own count of errors past the list.
        let counted: usize = errors.iter().map(|e| e.more).sum();
        let mut flat = errors.into_iter().flat_map(|mut e| {
            let further = std::mem::take(&mut e.further);
            std::iter::once(e).chain(further)
        });
        let mut first = flat.next()?;
        first.further = flat.by_ref().take(MAX_LISTED_ERRORS - 1).collect();
        first.more = counted + flat.count();
        Some(first)
    }
}

impl fmt::Display for ConfError {
    /// One line each, the first error first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)?;
        for e in &self.further {
            write!(f, "\n{}:{}: {}", e.file.display(), e.line, e.kind)?;
        }
        if self.more > 0 {
            write!(f, "\n… and {} more errors", self.more)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfError {}

/// Reads the named.conf at `path`.
pub fn read(path: &Path) -> Result<NamedConf, ConfError> {
    let mut conf = NamedConf::default();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    read_into(path, &base, &mut conf, 0)?;
    // Zone files were recorded as written; resolve them now that the
    // directory option is known wherever it stood.
    let dir = match &conf.directory {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => base.join(d),
        None => base.clone(),
    };
    for z in &mut conf.zones {
        for f in [&mut z.file, &mut z.key_directory].into_iter().flatten() {
            if f.is_relative() {
                *f = dir.join(&*f);
            }
        }
    }
    // BIND keeps keys in the working directory (`directory`) unless told.
    conf.key_directory = Some(match conf.key_directory.take() {
        Some(k) if k.is_relative() => dir.join(k),
        Some(k) => k,
        None => dir.clone(),
    });
    for t in &mut conf.tls {
        if let Some(f) = &t.ca_file {
            if f.is_relative() {
                t.ca_file = Some(dir.join(f));
            }
        }
    }
    Ok(conf)
}

/// Parses named.conf text (tests and fuzzing); `path` names it.
pub fn parse(text: &str, path: &Path) -> Result<NamedConf, ConfError> {
    let mut conf = NamedConf::default();
    let stmts = Parser::new(text, path).statements(false)?;
    interpret(
        &stmts,
        path,
        path.parent().unwrap_or(Path::new("")),
        &mut conf,
        0,
    )?;
    Ok(conf)
}

fn read_into(
    path: &Path,
    base: &Path,
    conf: &mut NamedConf,
    depth: usize,
) -> Result<(), ConfError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let source = Arc::new(e);
        ConfError::at(path, 0, ConfErrorKind::Read { source })
    })?;
    let stmts = Parser::new(&text, path).statements(false)?;
    interpret(&stmts, path, base, conf, depth)
}

/// A statement: words, then maybe a `{ … }` block, then `;`.
#[derive(Debug)]
struct Statement {
    words: Vec<String>,
    block: Option<Vec<Statement>>,
    line: u32,
}

fn interpret(
    stmts: &[Statement],
    path: &Path,
    base: &Path,
    conf: &mut NamedConf,
    depth: usize,
) -> Result<(), ConfError> {
    let err = |line: u32, kind: ConfErrorKind| ConfError::at(path, line, kind);
    let here = |line: u32| format!("{}:{}", path.display(), line);
    let mut errors = Vec::new();
    // Each statement alone: one in error is listed, the next is read.
    let mut one = |s: &Statement| -> Result<(), ConfError> {
        let keyword = s
            .words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        match keyword.as_str() {
            "options" => {
                for o in s.block.iter().flatten() {
                    match o.words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
                        Some("directory") => {
                            let [_, dir] = o.words.as_slice() else {
                                return Err(err(
                                    o.line,
                                    ConfErrorKind::usage("directory \"path\";"),
                                ));
                            };
                            conf.directory = Some(PathBuf::from(dir));
                        }
                        Some("dnssec-policy") => {
                            let [_, name] = o.words.as_slice() else {
                                return Err(err(
                                    o.line,
                                    ConfErrorKind::usage("dnssec-policy NAME;"),
                                ));
                            };
                            conf.default_dnssec_policy = Some((name.clone(), here(o.line)));
                        }
                        Some("key-directory") => {
                            let [_, dir] = o.words.as_slice() else {
                                return Err(err(
                                    o.line,
                                    ConfErrorKind::usage("key-directory \"path\";"),
                                ));
                            };
                            conf.key_directory = Some(PathBuf::from(dir));
                        }
                        Some(name) if SERVER_OPTIONS.contains(&name) => {
                            conf.server_options.push(server_option(o, path));
                        }
                        Some(other) => conf
                            .notes
                            .push(format!("{}: option '{other}' ignored", here(o.line))),
                        None => {}
                    }
                }
            }
            "include" => {
                let [_, file] = s.words.as_slice() else {
                    return Err(err(s.line, ConfErrorKind::usage("include \"file\";")));
                };
                if depth > 8 {
                    return Err(err(s.line, ConfErrorKind::IncludeTooDeep));
                }
                let p = PathBuf::from(file);
                let p = if p.is_absolute() { p } else { base.join(p) };
                read_into(&p, base, conf, depth + 1)?;
            }
            "zone" => conf.zones.push(zone(s, path)?),
            "key" => conf.keys.push(key(s, path)?),
            "tls" => conf.tls.push(tls(s, path)?),
            "dnssec-policy" if s.block.is_some() => {
                conf.dnssec_policies.push(server_option(s, path))
            }
            "" => {}
            other => conf
                .notes
                .push(format!("{}: statement '{other}' ignored", here(s.line))),
        }
        Ok(())
    };
    for s in stmts {
        if let Err(e) = one(s) {
            errors.push(e);
        }
    }
    ConfError::gather(errors).map_or(Ok(()), Err)
}

fn zone(s: &Statement, path: &Path) -> Result<NamedZone, ConfError> {
    let err = |line: u32, kind: ConfErrorKind| ConfError::at(path, line, kind);
    let name = match s.words.as_slice() {
        [_, name] => name.clone(),
        [_, name, class] if class.eq_ignore_ascii_case("in") => name.clone(),
        [_, _, class] => {
            return Err(err(
                s.line,
                ConfErrorKind::ZoneClass {
                    class: class.clone(),
                },
            ))
        }
        _ => {
            return Err(err(
                s.line,
                ConfErrorKind::usage("zone \"name\" [IN] { … };"),
            ))
        }
    };
    let Some(block) = &s.block else {
        let statement = format!("zone \"{name}\"");
        return Err(err(s.line, ConfErrorKind::NoBlock { statement }));
    };
    let mut z = NamedZone {
        name,
        kind: ZoneKind::Native,
        file: None,
        primaries: Vec::new(),
        also_notify: Vec::new(),
        primary_key: None,
        primary_tls: Vec::new(),
        allow_transfer: Vec::new(),
        allow_update: Vec::new(),
        update_policy: Vec::new(),
        dnssec_policy: None,
        inline_signing: None,
        key_directory: None,
        parental_agents: Vec::new(),
        source: format!("{}:{}", path.display(), s.line),
    };
    for o in block {
        let key = o
            .words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        match key.as_str() {
            "type" => {
                let kind = o.words.get(1).map(|w| w.to_ascii_lowercase());
                z.kind = match kind.as_deref() {
                    Some("master" | "primary") => ZoneKind::Primary,
                    Some("slave" | "secondary") => ZoneKind::Secondary,
                    Some("native") => ZoneKind::Native,
                    _ => {
                        return Err(err(
                            o.line,
                            ConfErrorKind::ZoneType {
                                zone: z.name.clone(),
                                found: o.words.get(1).map_or("nothing", String::as_str).into(),
                            },
                        ))
                    }
                };
            }
            "file" => {
                let [_, f] = o.words.as_slice() else {
                    return Err(err(o.line, ConfErrorKind::usage("file \"path\";")));
                };
                z.file = Some(PathBuf::from(f));
            }
            "masters" | "primaries" => {
                z.primaries = addresses(o);
                z.primary_key = list_key(o);
                z.primary_tls = list_tls(o);
            }
            "also-notify" => z.also_notify = addresses(o),
            "parental-agents" => z.parental_agents = addresses(o),
            "allow-transfer" => z.allow_transfer = items(o),
            "allow-update" => z.allow_update = items(o),
            "update-policy" => z.update_policy = grants(o, path)?,
            "dnssec-policy" => {
                let [_, p] = o.words.as_slice() else {
                    return Err(err(o.line, ConfErrorKind::usage("dnssec-policy NAME;")));
                };
                z.dnssec_policy = Some((p.clone(), format!("{}:{}", path.display(), o.line)));
            }
            "inline-signing" => {
                z.inline_signing = Some(
                    match o.words.get(1).map(|w| w.to_ascii_lowercase()).as_deref() {
                        Some("yes" | "true" | "1") => true,
                        Some("no" | "false" | "0") => false,
                        _ => {
                            return Err(err(o.line, ConfErrorKind::usage("inline-signing yes|no;")))
                        }
                    },
                )
            }
            "key-directory" => {
                let [_, d] = o.words.as_slice() else {
                    return Err(err(o.line, ConfErrorKind::usage("key-directory \"path\";")));
                };
                z.key_directory = Some(PathBuf::from(d));
            }
            _ => {}
        }
    }
    Ok(z)
}

/// The `key K` given on any item of an address list (BIND allows one per
/// address; rampart signs with one key per zone).
fn list_key(s: &Statement) -> Option<String> {
    s.block.iter().flatten().find_map(|item| {
        let at = item
            .words
            .iter()
            .position(|w| w.eq_ignore_ascii_case("key"))?;
        item.words.get(at + 1).cloned()
    })
}

/// Per address of a list, the `tls NAME` given on it.
fn list_tls(s: &Statement) -> Vec<Option<String>> {
    s.block
        .iter()
        .flatten()
        .filter(|item| !item.words.is_empty())
        .map(|item| {
            let at = item
                .words
                .iter()
                .position(|w| w.eq_ignore_ascii_case("tls"))?;
            item.words.get(at + 1).cloned()
        })
        .collect()
}

/// `tls NAME { ca-file "…"; remote-hostname "…"; … };`.
fn tls(s: &Statement, path: &Path) -> Result<NamedTls, ConfError> {
    let err = |line: u32, kind: ConfErrorKind| ConfError::at(path, line, kind);
    let [_, name] = s.words.as_slice() else {
        return Err(err(s.line, ConfErrorKind::usage("tls NAME { … };")));
    };
    let Some(block) = &s.block else {
        let statement = format!("tls {name}");
        return Err(err(s.line, ConfErrorKind::NoBlock { statement }));
    };
    if name.eq_ignore_ascii_case("ephemeral") || name.eq_ignore_ascii_case("none") {
        return Err(err(
            s.line,
            ConfErrorKind::TlsBuiltin { name: name.clone() },
        ));
    }
    let mut t = NamedTls {
        name: name.clone(),
        ca_file: None,
        remote_hostname: None,
        protocols: Vec::new(),
        source: format!("{}:{}", path.display(), s.line),
    };
    for o in block {
        let key = o
            .words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        let value = || match o.words.as_slice() {
            [_, v] => Ok(v.clone()),
            _ => Err(err(o.line, ConfErrorKind::usage(format!("{key} \"…\";")))),
        };
        match key.as_str() {
            "ca-file" => t.ca_file = Some(PathBuf::from(value()?)),
            "remote-hostname" => t.remote_hostname = Some(value()?),
            "protocols" => {
                t.protocols = o
                    .block
                    .iter()
                    .flatten()
                    .filter_map(|p| p.words.first().cloned())
                    .collect()
            }
            _ => {}
        }
    }
    Ok(t)
}

/// The items of an address-match list, each as its words joined by a
/// space (`key k`, `10.0.0.0/8`, `any`).
fn items(s: &Statement) -> Vec<String> {
    s.block
        .iter()
        .flatten()
        .filter(|i| !i.words.is_empty())
        .map(|i| i.words.join(" "))
        .collect()
}

/// `update-policy { grant KEY RULE [NAME] TYPES; … };`; `update-policy
/// local;` is refused (it needs BIND's session key).
fn grants(s: &Statement, path: &Path) -> Result<Vec<Grant>, ConfError> {
    let err = |line: u32, kind: ConfErrorKind| ConfError::at(path, line, kind);
    let Some(block) = &s.block else {
        return Err(err(s.line, ConfErrorKind::UpdatePolicyLocal));
    };
    let mut out = Vec::new();
    for g in block {
        let w = &g.words;
        let here = format!("{}:{}", path.display(), g.line);
        match w.first().map(|x| x.to_ascii_lowercase()).as_deref() {
            Some("grant") => {}
            Some(other) => {
                return Err(err(
                    g.line,
                    ConfErrorKind::NotGrant {
                        found: other.to_string(),
                    },
                ))
            }
            None => continue,
        }
        let (Some(key), Some(rule)) = (w.get(1), w.get(2)) else {
            return Err(err(g.line, ConfErrorKind::GrantSyntax));
        };
        let rule = rule.to_ascii_lowercase();
        let (name, types) = match rule.as_str() {
            "zonesub" => (None, &w[3..]),
            "name" | "subdomain" | "wildcard" => match w.get(3) {
                Some(n) => (Some(n.clone()), &w[4..]),
                None => {
                    let rule = rule.clone();
                    return Err(err(g.line, ConfErrorKind::GrantNeedsName { rule }));
                }
            },
            other => {
                return Err(err(
                    g.line,
                    ConfErrorKind::UnsupportedRule {
                        rule: other.to_string(),
                    },
                ))
            }
        };
        out.push(Grant {
            key: key.clone(),
            rule,
            name,
            types: types.to_vec(),
            source: here,
        });
    }
    Ok(out)
}

fn server_option(s: &Statement, path: &Path) -> ServerOption {
    ServerOption {
        name: s
            .words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default(),
        values: s.words.iter().skip(1).cloned().collect(),
        block: s
            .block
            .iter()
            .flatten()
            .filter(|b| !b.words.is_empty())
            .map(|b| server_option(b, path))
            .collect(),
        source: format!("{}:{}", path.display(), s.line),
    }
}

/// `key "name" { algorithm hmac-sha256; secret "base64"; };`
fn key(s: &Statement, path: &Path) -> Result<NamedKey, ConfError> {
    let err = |kind: ConfErrorKind| ConfError::at(path, s.line, kind);
    let [_, name] = s.words.as_slice() else {
        return Err(err(ConfErrorKind::usage(
            "key \"name\" { algorithm …; secret \"…\"; };",
        )));
    };
    let mut algorithm = None;
    let mut secret = None;
    for o in s.block.iter().flatten() {
        match o.words.as_slice() {
            [k, v] if k.eq_ignore_ascii_case("algorithm") => algorithm = Some(v.clone()),
            [k, v] if k.eq_ignore_ascii_case("secret") => secret = Some(v.clone()),
            _ => {}
        }
    }
    match (algorithm, secret) {
        (Some(algorithm), Some(secret)) => Ok(NamedKey {
            name: name.clone(),
            algorithm,
            secret,
            source: format!("{}:{}", path.display(), s.line),
        }),
        _ => Err(err(ConfErrorKind::KeyIncomplete { name: name.clone() })),
    }
}

/// The addresses of a `masters { a; b port 53; };` style list.
fn addresses(s: &Statement) -> Vec<String> {
    let mut out = Vec::new();
    for item in s.block.iter().flatten() {
        match item.words.as_slice() {
            [addr] => out.push(addr.clone()),
            [addr, port_kw, port, ..] if port_kw.eq_ignore_ascii_case("port") => {
                if addr.contains(':') {
                    out.push(format!("[{addr}]:{port}"));
                } else {
                    out.push(format!("{addr}:{port}"));
                }
            }
            // Over TLS without a port: 853 (RFC 7858), as BIND.
            [addr, tls_kw, ..] if tls_kw.eq_ignore_ascii_case("tls") => {
                if addr.contains(':') {
                    out.push(format!("[{addr}]:853"));
                } else {
                    out.push(format!("{addr}:853"));
                }
            }
            [addr, ..] => out.push(addr.clone()),
            [] => {}
        }
    }
    out
}

/// A tokenizer and recursive-descent parser for the statement syntax.
struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    path: &'a Path,
    /// `{ … }` blocks open around the current statement.
    depth: usize,
}

/// Deeper blocks than BIND's grammar ever needs are refused rather than
/// followed into a stack overflow.
const MAX_DEPTH: usize = 16;

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Semi,
    End,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        Parser {
            src: text.as_bytes(),
            pos: 0,
            line: 1,
            path,
            depth: 0,
        }
    }

    fn err(&self, kind: ConfErrorKind) -> ConfError {
        ConfError::at(self.path, self.line, kind)
    }

    /// Statements until `}` (when `nested`) or the end.
    fn statements(&mut self, nested: bool) -> Result<Vec<Statement>, ConfError> {
        let mut out = Vec::new();
        loop {
            let mut words = Vec::new();
            let mut line = 0;
            loop {
                let tok = self.next()?;
                if line == 0 {
                    line = self.line;
                }
                match tok {
                    Tok::Word(w) => words.push(w),
                    Tok::Semi => {
                        if !words.is_empty() {
                            out.push(Statement {
                                words,
                                block: None,
                                line,
                            });
                        }
                        break;
                    }
                    Tok::Open => {
                        if self.depth >= MAX_DEPTH {
                            return Err(self.err(ConfErrorKind::TooDeep));
                        }
                        self.depth += 1;
                        let block = self.statements(true)?;
                        self.depth -= 1;
                        // A block ends its statement; the ';' after it is
                        // required by BIND, tolerated missing here.
                        out.push(Statement {
                            words,
                            block: Some(block),
                            line,
                        });
                        self.skip_optional_semi();
                        break;
                    }
                    Tok::Close if nested => {
                        if !words.is_empty() {
                            return Err(self.err(ConfErrorKind::MissingSemicolon {
                                after: words.join(" "),
                            }));
                        }
                        return Ok(out);
                    }
                    Tok::Close => return Err(self.err(ConfErrorKind::UnopenedBrace)),
                    Tok::End if nested => return Err(self.err(ConfErrorKind::UnclosedBlock)),
                    Tok::End => {
                        if !words.is_empty() {
                            return Err(self.err(ConfErrorKind::MissingSemicolon {
                                after: words.join(" "),
                            }));
                        }
                        return Ok(out);
                    }
                }
            }
        }
    }

    fn skip_optional_semi(&mut self) {
        let save = (self.pos, self.line);
        match self.next() {
            Ok(Tok::Semi) => {}
            _ => (self.pos, self.line) = save,
        }
    }

    fn next(&mut self) -> Result<Tok, ConfError> {
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Ok(Tok::End);
            };
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => self.skip_line(),
                b'/' if self.src.get(self.pos + 1) == Some(&b'/') => self.skip_line(),
                b'/' if self.src.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    loop {
                        match self.src.get(self.pos) {
                            None => return Err(self.err(ConfErrorKind::UnclosedComment)),
                            Some(b'*') if self.src.get(self.pos + 1) == Some(&b'/') => {
                                self.pos += 2;
                                break;
                            }
                            Some(b'\n') => {
                                self.line += 1;
                                self.pos += 1;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                b'{' => {
                    self.pos += 1;
                    return Ok(Tok::Open);
                }
                b'}' => {
                    self.pos += 1;
                    return Ok(Tok::Close);
                }
                b';' => {
                    self.pos += 1;
                    return Ok(Tok::Semi);
                }
                b'"' => {
                    let start = self.pos + 1;
                    let mut end = start;
                    while end < self.src.len() && self.src[end] != b'"' {
                        if self.src[end] == b'\n' {
                            return Err(self.err(ConfErrorKind::QuoteOpenAtLineEnd));
                        }
                        end += 1;
                    }
                    if end >= self.src.len() {
                        return Err(self.err(ConfErrorKind::QuoteOpenAtFileEnd));
                    }
                    self.pos = end + 1;
                    return Ok(Tok::Word(
                        String::from_utf8_lossy(&self.src[start..end]).into_owned(),
                    ));
                }
                _ => {
                    let start = self.pos;
                    while let Some(&c) = self.src.get(self.pos) {
                        if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'{' | b'}' | b';' | b'"') {
                            break;
                        }
                        self.pos += 1;
                    }
                    return Ok(Tok::Word(
                        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned(),
                    ));
                }
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(&c) = self.src.get(self.pos) {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
// PowerDNS bind backend style
options {
    directory "/var/lib/zones";
    recursion no; # ignored
};
/* a block
   comment */
key "tsig" { algorithm hmac-sha256; secret "abc="; };
zone "Example.ORG" IN {
    type master;
    file "example.org.zone";
    also-notify { 192.0.2.1; 2001:db8::1 port 5300; };
};
zone "sub.example.org." { type slave; masters { 192.0.2.9; }; file "/abs/sub.zone"; };
zone "native.test" { file "native.zone"; };
"#;

    #[test]
    fn rate_limit_and_cookie_options_are_kept_as_written() {
        let text = "options {\n  directory \"/z\";\n  rate-limit {\n    responses-per-second 5;\n    exempt-clients { 10.0.0.0/8; ::1; };\n  };\n  cookie-secret \"00112233445566778899aabbccddeeff\";\n};\n";
        let c = parse(text, Path::new("n.conf")).unwrap();
        assert_eq!(c.server_options.len(), 2);
        let rl = &c.server_options[0];
        assert_eq!(
            (rl.name.as_str(), rl.source.as_str()),
            ("rate-limit", "n.conf:3")
        );
        assert_eq!(rl.block[0].name, "responses-per-second");
        assert_eq!(rl.block[0].values, ["5"]);
        assert_eq!(rl.block[0].source, "n.conf:4");
        let exempt: Vec<_> = rl.block[1].block.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(exempt, ["10.0.0.0/8", "::1"]);
        assert_eq!(
            c.server_options[1].values,
            ["00112233445566778899aabbccddeeff"]
        );
    }

    #[test]
    fn reads_zone_list() {
        let mut c = parse(CONF, Path::new("/etc/named.conf")).unwrap();
        assert_eq!(c.directory.as_deref(), Some(Path::new("/var/lib/zones")));
        assert_eq!(c.zones.len(), 3);
        let z = &c.zones[0];
        assert_eq!(z.name, "Example.ORG");
        assert_eq!(z.kind, ZoneKind::Primary);
        assert_eq!(z.also_notify, ["192.0.2.1", "[2001:db8::1]:5300"]);
        assert_eq!(z.source, "/etc/named.conf:10");
        assert_eq!(c.zones[1].kind, ZoneKind::Secondary);
        assert_eq!(c.zones[1].primaries, ["192.0.2.9"]);
        assert_eq!(c.zones[2].kind, ZoneKind::Native);
        assert!(c.notes.iter().any(|n| n.contains("'recursion' ignored")));
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.keys[0].name, "tsig");
        assert_eq!(c.keys[0].algorithm, "hmac-sha256");
        assert_eq!(c.keys[0].secret, "abc=");
        c.zones.clear();
    }

    #[test]
    fn reads_replication_statements() {
        let c = parse(
            r#"zone "example.org" {
    type primary; file "e.zone";
    allow-transfer { 127.0.0.2; 10.0.0.0/8; key "xfr"; };
    update-policy {
        grant certbot. name _acme-challenge.example.org. TXT;
        grant admin zonesub ANY;
    };
};
zone "s.test" { type secondary; file "s.zone"; primaries { 127.0.0.9 port 5301 key "xfr"; }; };
"#,
            Path::new("/n.conf"),
        )
        .unwrap();
        let z = &c.zones[0];
        assert_eq!(z.allow_transfer, ["127.0.0.2", "10.0.0.0/8", "key xfr"]);
        assert_eq!(z.update_policy.len(), 2);
        assert_eq!(z.update_policy[0].key, "certbot.");
        assert_eq!(z.update_policy[0].rule, "name");
        assert_eq!(
            z.update_policy[0].name.as_deref(),
            Some("_acme-challenge.example.org.")
        );
        assert_eq!(z.update_policy[0].types, ["TXT"]);
        assert_eq!(z.update_policy[1].name, None);
        assert_eq!(z.update_policy[0].source, "/n.conf:5");
        let s = &c.zones[1];
        assert_eq!(s.primaries, ["127.0.0.9:5301"]);
        assert_eq!(s.primary_key.as_deref(), Some("xfr"));
        let e = parse(
            "zone \"a\" { type master; file \"x\"; update-policy { grant k self * A; }; };",
            Path::new("n.conf"),
        )
        .unwrap_err();
        assert!(
            e.kind.to_string().contains("rule 'self' is not supported"),
            "{e}"
        );
        assert!(
            matches!(&e.kind, ConfErrorKind::UnsupportedRule { rule } if rule == "self"),
            "{e:?}"
        );
    }

    #[test]
    fn reads_tls_profiles_and_primaries_over_tls() {
        let c = parse(
            r#"tls xot { ca-file "ca.pem"; remote-hostname "ns1.example.org"; protocols { TLSv1.3; }; };
tls local-tls { cert-file "c.pem"; key-file "k.pem"; };
zone "s.test" { type secondary; file "s.zone";
    primaries { 192.0.2.1 port 8853 tls xot; 192.0.2.2 tls ephemeral; 192.0.2.3; }; };
"#,
            Path::new("/etc/n.conf"),
        )
        .unwrap();
        assert_eq!(c.tls.len(), 2);
        assert_eq!(c.tls[0].name, "xot");
        assert_eq!(c.tls[0].ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(c.tls[0].remote_hostname.as_deref(), Some("ns1.example.org"));
        assert_eq!(c.tls[0].protocols, ["TLSv1.3"]);
        let z = &c.zones[0];
        assert_eq!(
            z.primaries,
            ["192.0.2.1:8853", "192.0.2.2:853", "192.0.2.3"]
        );
        assert_eq!(
            z.primary_tls,
            [Some("xot".to_string()), Some("ephemeral".to_string()), None]
        );
        let e = parse("tls ephemeral { };", Path::new("n.conf")).unwrap_err();
        assert!(e.kind.to_string().contains("built-in"), "{e}");
        assert!(matches!(e.kind, ConfErrorKind::TlsBuiltin { .. }), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_with_its_line() {
        let text = format!("options {{\n{}", "x {\n".repeat(10_000));
        let e = parse(&text, Path::new("n.conf")).unwrap_err();
        assert!(e.kind.to_string().contains("nested more than"), "{e}");
        assert!(matches!(e.kind, ConfErrorKind::TooDeep), "{e:?}");
        assert_eq!(e.line, 17);
    }

    #[test]
    fn errors_name_line() {
        let e = parse(
            "zone \"a\" {\n type master;\n file \"x\"\n};\n",
            Path::new("n.conf"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "n.conf:4: expected ';' after 'file x'");
        assert!(
            matches!(&e.kind, ConfErrorKind::MissingSemicolon { after } if after == "file x"),
            "{e:?}"
        );
        let e = parse("zone \"a\" {\n type hint;\n};\n", Path::new("n.conf")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("n.conf:2: zone \"a\": expected type master"),
            "{e}"
        );
        let e = parse("options {\n", Path::new("n.conf")).unwrap_err();
        assert!(e.to_string().contains("expected '}'"), "{e}");
    }

    #[test]
    fn every_statement_in_error_is_listed_in_file_order() {
        // named-checkconf lists each of these (a bad zone type, a class
        // not served, a bad directory option) before giving up; the good
        // zone between them is still read.
        let text = "zone \"a\" {\n type hint;\n};\n\
                    zone \"ok.test\" { type master; file \"ok\"; };\n\
                    zone \"c\" CH { type master; file \"c\"; };\n\
                    options { directory; };\n";
        let e = parse(text, Path::new("n.conf")).unwrap_err();
        let lines: Vec<u32> = e.all().map(|e| e.line).collect();
        assert_eq!(lines, [2, 5, 6], "{e}");
        assert_eq!(e.to_string().lines().count(), 3, "{e}");
        assert!(
            e.to_string().lines().all(|l| l.starts_with("n.conf:")),
            "{e}"
        );
        // Each error says what it said alone.
        let alone = parse("options { directory; };\n", Path::new("n.conf")).unwrap_err();
        assert_eq!(e.further[1].kind.to_string(), alone.kind.to_string());
        assert!(
            matches!(&alone.kind, ConfErrorKind::Usage { form } if form == "directory \"path\";"),
            "{alone:?}"
        );
        assert!(matches!(e.kind, ConfErrorKind::ZoneType { .. }), "{e:?}");
        assert!(
            matches!(e.further[0].kind, ConfErrorKind::ZoneClass { .. }),
            "{e:?}"
        );
        // A syntax error still ends the reading where it is.
        let e = parse("zone \"c\" CH { };\noptions {\n", Path::new("n.conf")).unwrap_err();
        assert_eq!(e.all().count(), 1, "{e}");
    }

    #[test]
    fn the_list_is_bounded() {
        let text = "zone \"c\" CH { type master; file \"c\"; };\n".repeat(MAX_LISTED_ERRORS + 20);
        let e = parse(&text, Path::new("n.conf")).unwrap_err();
        assert_eq!(e.all().count(), MAX_LISTED_ERRORS);
        // The rest are counted and said, not dropped.
        assert_eq!(e.more, 20);
        assert!(e.to_string().ends_with("… and 20 more errors"), "{e}");
    }
}
