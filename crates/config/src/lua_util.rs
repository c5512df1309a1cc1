//! Small helpers the Lua bindings share: list arguments, finding and
//! moving rules by position, name or uuid, and dnsdist's rule table.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use mlua::{Function, Lua, Value};

use crate::{fail, Config};

/// A string or a list of strings (dnsdist takes either almost everywhere);
/// `newDNSName(...)` objects count as strings.
pub fn strings(lua: &Lua, v: Value, what: &str) -> mlua::Result<Vec<String>> {
    let one = |v: Value| match v {
        Value::String(s) => Ok(s.to_str()?.to_string()),
        Value::UserData(ud) if ud.is::<LuaDnsName>() => Ok(ud.borrow::<LuaDnsName>()?.text()),
        other => Err(fail(
            lua,
            format!("expected {what}, got {}", other.type_name()),
        )),
    };
    match v {
        Value::Table(t) => t.sequence_values::<Value>().map(|v| one(v?)).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// `newDNSName(text)`: a domain name, checked when made, kept as written
/// (dnsdist's DNSName keeps the case it was given).
#[derive(Clone, Debug)]
pub struct LuaDnsName {
    /// Wire form, for comparisons.
    pub wire: Vec<u8>,
    /// As given, with the final dot.
    text: String,
}

impl LuaDnsName {
    /// The name of wire form `wire`.
    pub fn from_wire(wire: &[u8]) -> LuaDnsName {
        LuaDnsName {
            wire: wire.to_vec(),
            text: wire::name::to_text(wire),
        }
    }

    /// Presentation form with the final dot, as dnsdist's `toString`.
    pub fn text(&self) -> String {
        self.text.clone()
    }
}

impl mlua::UserData for LuaDnsName {
    fn add_methods<M: mlua::UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("toString", |_, n, ()| Ok(n.text()));
        methods.add_method("toStringNoDot", |_, n, ()| {
            Ok(if n.text == "." {
                n.text()
            } else {
                n.text.trim_end_matches('.').to_string()
            })
        });
        methods.add_method("countLabels", |_, n, ()| {
            Ok(wire::name::label_count(&n.wire))
        });
        methods.add_method("wirelength", |_, n, ()| Ok(n.wire.len()));
        methods.add_method("isPartOf", |_, n, other: mlua::UserDataRef<LuaDnsName>| {
            Ok(wire::name::is_subdomain(&n.wire, &other.wire))
        });
        methods.add_meta_method(mlua::MetaMethod::ToString, |_, n, ()| Ok(n.text()));
        methods.add_meta_method(
            mlua::MetaMethod::Eq,
            |_, n, other: mlua::UserDataRef<LuaDnsName>| {
                Ok(wire::name::eq_ignore_case(&n.wire, &other.wire))
            },
        );
    }
}

/// What a registered function may close over: the config it edits and
/// the config file's directory (relative paths resolve against it).
pub struct Env {
    pub state: Rc<RefCell<Config>>,
    pub base: PathBuf,
}

impl Env {
    pub fn new(state: &Rc<RefCell<Config>>, base: &std::path::Path) -> Env {
        Env {
            state: state.clone(),
            base: base.to_path_buf(),
        }
    }
}

/// A Lua global and what makes it. The Lua functions are listed in
/// tables of these rather than set one after another in a long body, so
/// that each is found by its name and each table's test can check that
/// every name in it has a case. What the makers close over is an [`Env`]
/// unless a module needs something else (the shared runtime).
pub type Global<E = Env> = (&'static str, fn(&Lua, &E) -> mlua::Result<Function>);

/// Sets every global of `table`.
pub fn register_table<E>(lua: &Lua, env: &E, table: &[Global<E>]) -> mlua::Result<()> {
    let g = lua.globals();
    for (name, make) in table {
        g.set(*name, make(lua, env)?)?;
    }
    Ok(())
}

/// Makes a function that edits the config with `set`, which checks its
/// arguments (failing with [`fail`], which names the calling line).
pub fn setter<A: mlua::FromLuaMulti + 'static>(
    lua: &Lua,
    env: &Env,
    set: fn(&Lua, &mut Config, A) -> mlua::Result<()>,
) -> mlua::Result<Function> {
    let st = env.state.clone();
    lua.create_function(move |lua, args: A| set(lua, &mut st.borrow_mut(), args))
}

/// A true/false setting: its name, and how it is stored.
pub type Flag = (&'static str, fn(&mut Config, bool));

/// Registers each `name(on)` of `table`, a true/false setting.
pub fn register_flags(lua: &Lua, env: &Env, table: &[Flag]) -> mlua::Result<()> {
    let g = lua.globals();
    for &(name, set) in table {
        let st = env.state.clone();
        g.set(
            name,
            lua.create_function(move |_, on: bool| {
                set(&mut st.borrow_mut(), on);
                Ok(())
            })?,
        )?;
    }
    Ok(())
}

/// Registers `newDNSName`.
pub fn register_names(lua: &Lua) -> mlua::Result<()> {
    lua.globals().set(
        "newDNSName",
        lua.create_function(|lua, text: String| {
            let wire = wire::name::parse(&text)
                .map_err(|e| fail(lua, format!("newDNSName: bad name '{text}': {e}")))?;
            let text = if text.ends_with('.') {
                text
            } else {
                format!("{text}.")
            };
            Ok(LuaDnsName { wire, text })
        })?,
    )
}

/// Something listed in a rule chain.
pub trait Listed {
    fn name(&self) -> &str;
    fn uuid(&self) -> &str;
    /// (matches, rule, action) for the table.
    fn row(&self) -> (u64, String, String);
}

/// Query and response rules list the same way.
macro_rules! listed {
    ($($t:ty),*) => {$(
        impl Listed for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn uuid(&self) -> &str {
                &self.uuid
            }
            fn row(&self) -> (u64, String, String) {
                (self.selector.matches(), self.selector.describe(), self.action.describe())
            }
        }
    )*};
}

listed!(shield::Rule, shield::response::ResponseRule);

/// The position of a rule given by number, name or uuid to `func`
/// (named in the error if there is none).
pub fn find<T: Listed>(
    lua: &Lua,
    rules: &[T],
    id: Value,
    func: &str,
    what: &str,
) -> mlua::Result<usize> {
    match id {
        Value::Integer(n) if n >= 0 && (n as usize) < rules.len() => Ok(n as usize),
        Value::Integer(n) => Err(fail(
            lua,
            format!("{func}: no {what} {n}: there are {}", rules.len()),
        )),
        Value::String(s) => {
            let s = s.to_str()?.to_string();
            rules
                .iter()
                .position(|r| r.name() == s || r.uuid() == s)
                .ok_or_else(|| fail(lua, format!("{func}: no {what} named or with uuid '{s}'")))
        }
        other => Err(fail(
            lua,
            format!(
                "{func}: expected a {what} number, name or uuid, got {}",
                other.type_name()
            ),
        )),
    }
}

/// Moves rule `from` to position `to` (clamped to the end) for `func`
/// (named in the error if there is no rule `from`).
pub fn move_to<T>(
    lua: &Lua,
    rules: &mut Vec<T>,
    (from, to): (usize, usize),
    func: &str,
    what: &str,
) -> mlua::Result<()> {
    if from >= rules.len() {
        return Err(fail(
            lua,
            format!("{func}: no {what} {from}: there are {}", rules.len()),
        ));
    }
    let r = rules.remove(from);
    rules.insert(to.min(rules.len()), r);
    Ok(())
}

/// `showRules()` output, in dnsdist's layout.
pub fn table<T: Listed>(rules: &[T]) -> String {
    let mut out = format!(
        "{:<3} {:<30} {:>9} {:<56} {}\n",
        "#", "Name", "Matches", "Rule", "Action"
    );
    for (i, r) in rules.iter().enumerate() {
        let (matches, rule, action) = r.row();
        out.push_str(&format!(
            "{:<3} {:<30} {:>9} {:<56} {}\n",
            i,
            r.name(),
            matches,
            rule,
            action
        ));
    }
    out
}

/// How one rule chain is reached from Lua.
pub struct Chain<T> {
    /// "rule", "response rule": for messages.
    pub what: &'static str,
    /// `set…`, `top…`, `show…`, `rm…`, `mv…`, `clear…`, in that order.
    pub names: [&'static str; 6],
    /// What `set…` takes, for its error message.
    pub objects: &'static str,
    /// The rule inside a `newRuleAction(...)` object, if it is one of
    /// this chain's.
    pub rule_of: fn(&mlua::AnyUserData) -> Option<T>,
    /// The chain in the config.
    pub chain: fn(&mut Config) -> &mut Vec<T>,
}

/// Registers the functions of one rule chain (see [`Chain`]).
pub fn register_chain<T: Listed + 'static>(
    lua: &Lua,
    state: &Rc<RefCell<Config>>,
    c: Chain<T>,
) -> mlua::Result<()> {
    let Chain {
        what,
        names,
        objects,
        rule_of,
        chain,
    } = c;
    let g = lua.globals();
    let st = state.clone();
    g.set(
        names[0],
        lua.create_function(move |lua, list: mlua::Table| {
            let mut rules = Vec::new();
            for v in list.sequence_values::<mlua::AnyUserData>() {
                let r = rule_of(&v?)
                    .ok_or_else(|| fail(lua, format!("{} takes {objects}", names[0])))?;
                rules.push(r);
            }
            *chain(&mut st.borrow_mut()) = rules;
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        names[1],
        lua.create_function(move |_, ()| {
            let mut c = st.borrow_mut();
            let rules = chain(&mut c);
            if let Some(r) = rules.pop() {
                rules.insert(0, r);
            }
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        names[2],
        lua.create_function(move |_, ()| {
            crate::output::emit(&table(chain(&mut st.borrow_mut())));
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        names[3],
        lua.create_function(move |lua, id: Value| {
            let mut c = st.borrow_mut();
            let rules = chain(&mut c);
            let pos = find(lua, rules, id, names[3], what)?;
            rules.remove(pos);
            Ok(())
        })?,
    )?;
    let st = state.clone();
    g.set(
        names[4],
        lua.create_function(move |lua, args: (usize, usize)| {
            move_to(lua, chain(&mut st.borrow_mut()), args, names[4], what)
        })?,
    )?;
    let st = state.clone();
    g.set(
        names[5],
        lua.create_function(move |_, ()| {
            chain(&mut st.borrow_mut()).clear();
            Ok(())
        })?,
    )?;
    Ok(())
}

/// Runs `f` with Lua stopped once it has run for `limit`: console lines
/// and `maintenance()` run on the thread that takes signals, so a Lua
/// loop that never ends must not leave SIGTERM and SIGHUP waiting.
pub fn with_deadline<R>(lua: &Lua, limit: std::time::Duration, f: impl FnOnce() -> R) -> R {
    let deadline = std::time::Instant::now() + limit;
    let set = lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| {
            if std::time::Instant::now() > deadline {
                return Err(mlua::Error::RuntimeError(format!(
                    "stopped: ran longer than {} s",
                    limit.as_secs_f64()
                )));
            }
            Ok(mlua::VmState::Continue)
        },
    );
    let result = f();
    if set.is_ok() {
        lua.remove_hook();
    }
    result
}

/// A numeric option (`name=` in an options table) that must be a whole
/// number from 0 to 4294967295; anything else is an error naming the
/// function and option, not a silent truncation.
pub fn option_u32(lua: &Lua, func: &str, key: &str, v: &Value) -> mlua::Result<u32> {
    let n = match v {
        Value::Integer(n) => u32::try_from(*n).ok(),
        Value::Number(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f) => {
            Some(*f as u32)
        }
        _ => None,
    };
    n.ok_or_else(|| {
        fail(
            lua,
            format!("{func}: {key} must be a whole number from 0 to 4294967295"),
        )
    })
}

/// A true/false option: `tcpOnly=1` or `"true"` is an error, not false.
pub fn option_bool(lua: &Lua, func: &str, key: &str, v: &Value) -> mlua::Result<bool> {
    v.as_boolean()
        .ok_or_else(|| fail(lua, format!("{func}: {key} must be true or false")))
}

/// Helpers for the tests of the registration tables: run a snippet, see
/// what it built or set, and check that a table's every name has a case.
#[cfg(test)]
pub(crate) mod table_test {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::sync::Arc;

    use mlua::{Lua, Value};

    /// Where the test configs pretend to live.
    pub const PATH: &str = "/etc/rampart/rampart.conf";

    /// The config `src` makes; the test fails if it does not load.
    pub fn load(src: &str) -> crate::Config {
        crate::load_str(src, Path::new(PATH)).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// A Lua state with every function registered, after running `src`.
    pub fn lua(src: &str) -> Lua {
        crate::load_with_runtime(
            src,
            Path::new(PATH),
            &Arc::new(shield::Runtime::default()),
            None,
            shield::querylog::OpenMode::Check,
        )
        .map(|(_, lua, _)| lua)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// Checks each `(function, expression, [texts])`: what the expression
    /// builds ([`built`]) holds every text (the arguments given, as the
    /// object keeps them).
    pub fn check_built(cases: &[(&str, &str, &[&str])]) {
        for (_, expr, want) in cases {
            let got = built(expr);
            for w in *want {
                assert!(got.contains(w), "{expr}: want {w:?} in {got:?}");
            }
        }
    }

    /// What the expression `expr` makes, as text: a selector's or an
    /// action's description and its Debug form (which shows what the
    /// description leaves out), or else Lua's `tostring`.
    pub fn built(expr: &str) -> String {
        let lua = lua("");
        let v: Value = lua
            .load(format!("return {expr}"))
            .eval()
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        if let Value::UserData(ud) = &v {
            if let Ok(s) = ud.borrow::<crate::shield_lua::LuaSelector>() {
                return format!("{} {:?}", s.0.describe(), s.0);
            }
            if let Ok(a) = ud.borrow::<crate::shield_lua::LuaAction>() {
                return format!("{} {:?}", a.0.describe(), a.0);
            }
            if let Ok(a) = ud.borrow::<crate::response_lua::LuaResponseAction>() {
                return format!("{} {:?}", a.0.describe(), a.0);
            }
        }
        lua.load("return tostring(...)")
            .call::<String>(v)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// A case of a table of settings: the function, a snippet calling
    /// it, what to look at in the config (given what was printed), and
    /// texts that must be there after the snippet.
    pub type Case<'a> = (
        &'a str,
        &'a str,
        fn(&crate::Config, &str) -> String,
        &'a [&'a str],
    );

    /// Checks `cases` cover `table` and that each snippet took effect:
    /// what its case looks at shows the texts after it, and did not show
    /// them all before (in a config of nothing).
    pub fn check_cases<'a>(table: impl IntoIterator<Item = &'a str>, cases: &[Case<'a>]) {
        covers(table, cases.iter().map(|(n, s, _, _)| (*n, *s)));
        let (empty, printed) = crate::output::capture(|| load(""));
        for (name, src, look, want) in cases {
            let (c, out) = crate::output::capture(|| load(src));
            let got = look(&c, &out);
            for w in *want {
                assert!(got.contains(w), "{src}: want {w:?} in {got:?}");
            }
            let before = look(&empty, &printed);
            assert!(
                !want.iter().all(|w| before.contains(w)),
                "{name}: an empty config already shows {want:?}: {before:?}"
            );
        }
    }

    /// The global table `table` of a Lua state: its entries, by name.
    pub fn constants(table: &str) -> std::collections::BTreeMap<String, i64> {
        let lua = lua("");
        let t: mlua::Table = lua
            .globals()
            .get(table)
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        t.pairs::<String, i64>()
            .map(|p| p.unwrap_or_else(|e| panic!("{table}: {e}")))
            .collect()
    }

    /// Checks global table `table` holds `want` (written from dnsdist's
    /// documentation and source), and, if `exact`, nothing else.
    pub fn check_constants(table: &str, want: &[(&str, i64)], exact: bool) {
        let got = constants(table);
        for (name, value) in want {
            assert_eq!(got.get(*name), Some(value), "{table}.{name}");
        }
        if exact {
            let extra: Vec<_> = got
                .keys()
                .filter(|k| !want.iter().any(|(n, _)| n == k))
                .collect();
            assert!(extra.is_empty(), "{table}: no expected value for {extra:?}");
        }
    }

    /// One rule chain as its test sees it: the six functions
    /// ([`super::Chain::names`]), how Lua adds to it and makes a rule for
    /// `set…` (`NAME` stands for the rule's name; its selector is
    /// `QNameRule('NAME.test')` and its uuid `uuid-NAME`), and the names of
    /// the config's rules in order.
    pub struct ChainUnderTest {
        pub names: [&'static str; 6],
        pub add: &'static str,
        pub new: &'static str,
        pub rules: fn(&crate::Config) -> Vec<String>,
    }

    /// The names of `rules` in order.
    pub fn rule_names<T: super::Listed>(rules: &[T]) -> Vec<String> {
        rules.iter().map(|r| r.name().to_string()).collect()
    }

    /// Checks each of the chain's six functions on a config that already
    /// has rules a, b and c (lines 1 to 3; the call is on line 4): the
    /// rules left and their order, what `show…` printed, and that a bad
    /// index or name fails naming the line and the function.
    pub fn check_chain(ch: &ChainUnderTest) {
        let [set, top, show, rm, mv, clear] = ch.names;
        let setup: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|n| ch.add.replace("NAME", n))
            .collect();
        let setup = setup.join("\n");
        let new = |n: &str| ch.new.replace("NAME", n);
        // (function, call, rules after it, texts printed).
        let cases: Vec<(&str, String, &[&str], Vec<&str>)> = vec![
            (
                set,
                format!("{set}({{{}, {}}})", new("x"), new("y")),
                &["x", "y"],
                vec![],
            ),
            (top, format!("{top}()"), &["c", "a", "b"], vec![]),
            (
                show,
                format!("{show}()"),
                &["a", "b", "c"],
                vec!["Name", "a.test", "b.test", "c.test"],
            ),
            (rm, format!("{rm}(1) {rm}('uuid-c')"), &["a"], vec![]),
            (mv, format!("{mv}(0, 2)"), &["b", "c", "a"], vec![]),
            (clear, format!("{clear}()"), &[], vec![]),
        ];
        covers(ch.names, cases.iter().map(|(n, s, _, _)| (*n, s.as_str())));
        assert_eq!((ch.rules)(&load(&setup)), ["a", "b", "c"], "{setup}");
        for (name, call, want, printed) in &cases {
            let src = format!("{setup}\n{call}");
            let (c, out) = crate::output::capture(|| load(&src));
            assert_eq!((ch.rules)(&c), *want, "{name}: {call}");
            for p in printed {
                assert!(out.contains(p), "{call}: want {p:?} printed in {out:?}");
            }
            if *name == show {
                // A row per rule: its position, name and selector.
                for (i, n) in ["a", "b", "c"].iter().enumerate() {
                    assert!(
                        out.lines().any(|l| l.starts_with(&format!("{i} "))
                            && l.contains(&format!(" {n} "))
                            && l.contains(&format!("{n}.test"))),
                        "{call}: no row for {n} in {out:?}"
                    );
                }
            }
        }
        // Bad calls: each fails at line 4, naming the function.
        for (name, call) in [
            (set, format!("{set}({{AllRule()}})")),
            (rm, format!("{rm}(3)")),
            (rm, format!("{rm}('nosuch')")),
            (mv, format!("{mv}(3, 0)")),
        ] {
            let src = format!("{setup}\n{call}");
            let e = crate::load_str(&src, std::path::Path::new(PATH))
                .err()
                .unwrap_or_else(|| panic!("{call} should fail"));
            assert!(
                e.to_string().contains(&format!("{PATH}:4:")) && e.to_string().contains(name),
                "{call}: want the line and {name} in {e}"
            );
        }
    }

    /// Checks each case's snippet calls the function it is for, and that
    /// `table` and the cases name the same functions: a function added to
    /// a table without a test fails here.
    pub fn covers<'a>(
        table: impl IntoIterator<Item = &'a str>,
        cases: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let mut tested = BTreeSet::new();
        for (name, snippet) in cases {
            assert!(
                snippet.contains(&format!("{name}(")) || snippet.contains(&format!("{name}{{")),
                "the case for {name} does not call it: {snippet}"
            );
            assert!(tested.insert(name), "two cases for {name}");
        }
        let table: BTreeSet<&str> = table.into_iter().collect();
        let untested: Vec<_> = table.difference(&tested).collect();
        assert!(untested.is_empty(), "no test case for {untested:?}");
        let unknown: Vec<_> = tested.difference(&table).collect();
        assert!(
            unknown.is_empty(),
            "cases for functions not in the table: {unknown:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(src: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::load_str(src, Path::new("/etc/rampart/rampart.conf"))
    }

    /// Every chain of `mv…Rule`-style functions in the Lua state is one
    /// whose test runs [`table_test::check_chain`]: a chain registered
    /// without a test fails here.
    #[test]
    fn every_chain_has_a_test() {
        let tested = [
            crate::shield_lua::CHAIN,
            crate::response_lua::CHAIN,
            crate::response_lua::SELF_ANSWERED_CHAIN,
        ];
        let lua = super::table_test::lua("");
        let mut found = Vec::new();
        for pair in lua.globals().pairs::<String, mlua::Value>() {
            let (name, v) = pair.unwrap();
            if name.starts_with("mv") && name.ends_with("Rule") && v.is_function() {
                found.push(name);
            }
        }
        assert!(!found.is_empty());
        for name in found {
            assert!(
                tested.iter().any(|c| c[4] == name),
                "{name}: a rule chain with no check_chain test"
            );
        }
    }

    #[test]
    fn dns_names_work_where_strings_do() {
        let c = load(
            r#"
            local n = newDNSName("Www.Example.ORG")
            assert(n:toString() == "Www.Example.ORG.", n:toString())
            assert(tostring(n) == "Www.Example.ORG.")
            assert(n:toStringNoDot() == "Www.Example.ORG")
            assert(n:countLabels() == 3)
            assert(n:isPartOf(newDNSName("example.org.")))
            assert(n == newDNSName("www.example.org."))
            local smn = newSuffixMatchNode()
            smn:add(n)
            smn:add({newDNSName("a.test"), "b.test"})
            assert(smn:size() == 3)
            assert(EDNSOptionCode.ECS == 8 and EDNSOptionCode.COOKIE == 10)
            assert(getStatisticsCounters()["queries"] == 0)
            assert(tostring(SetTempFailureCacheTTLAction(1)) == "set tempfailure cache ttl to 1")
            addAction(newDNSName("drop.test."), DropAction())
            addAction({newDNSName("one.test"), newDNSName("two.test")}, DropAction())
        "#,
        )
        .unwrap();
        assert_eq!(c.shield.rules.rules().len(), 2);
        let e = load("\nnewDNSName('a..b')\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/etc/rampart/rampart.conf:2: newDNSName: bad name 'a..b'"),
            "{e}"
        );
    }
}

/// A header an HTTP answer is to carry (the webserver's, DoH's), checked
/// by HTTP's rules (RFC 9110 §5.1, §5.5): a name of token characters, a
/// value without control characters. So no header smuggles a second one
/// in, and the HTTP library, which refuses anything else at answer time
/// where nothing can say so, never meets one: the config's line says so.
pub(crate) fn check_header(lua: &Lua, what: &str, name: &str, value: &str) -> mlua::Result<()> {
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let field = |c: u8| c == b'\t' || (c >= b' ' && c != 0x7f);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(fail(
            lua,
            format!(
                "{what}: bad header '{}': the name is not an HTTP token",
                name.escape_debug()
            ),
        ));
    }
    if !value.bytes().all(field) {
        return Err(fail(
            lua,
            format!(
                "{what}: bad header '{name}': a control character in its value '{}'",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}
