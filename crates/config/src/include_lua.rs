//! `includeDirectory(dir)`: runs every `*.conf` file of a directory, in
//! name order, as part of the config (dnsdist's conf.d).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::Lua;

use crate::fail;

/// Registers `includeDirectory`.
pub fn register(lua: &Lua, base: &Path) -> mlua::Result<()> {
    let base = base.to_path_buf();
    // dnsdist allows one level: an included file may not include more.
    let including = Rc::new(Cell::new(false));
    lua.globals().set(
        "includeDirectory",
        lua.create_function(move |lua, dir: String| {
            if including.get() {
                return Err(fail(lua, "includeDirectory() cannot be used recursively"));
            }
            let path = locate(&base, &dir);
            let files = conf_files(&path)
                .map_err(|e| fail(lua, format!("includeDirectory: {}: {e}", path.display())))?;
            including.set(true);
            let result = files.iter().try_for_each(|file| {
                let src = std::fs::read_to_string(file).map_err(|e| {
                    fail(
                        lua,
                        format!("includeDirectory: cannot read {}: {e}", file.display()),
                    )
                })?;
                lua.load(src)
                    .set_name(format!("@{}", file.display()))
                    .exec()
            });
            including.set(false);
            result
        })?,
    )
}

/// Where a relative `dir` is: beside the config (where rampart looks for
/// every relative path) if it exists there, else from the working
/// directory (where dnsdist looks).
fn locate(base: &Path, dir: &str) -> PathBuf {
    let beside = crate::resolve(base, dir);
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from(dir)
    }
}

/// The regular files named `*.conf` (not hidden) in `dir`, sorted. A
/// missing directory is an error: dnsdist only logs it, but a config
/// whose rules silently did not load is worse than one that stops.
fn conf_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".conf") {
            continue;
        }
        let path = entry.path();
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rampart-include-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("conf.d")).unwrap();
        d
    }

    #[test]
    fn conf_files_run_in_name_order_and_others_are_skipped() {
        let d = scratch("order");
        let c = d.join("conf.d");
        std::fs::write(
            c.join("20-last.conf"),
            "addAction(AllRule(), DropAction())\n",
        )
        .unwrap();
        std::fs::write(
            c.join("01-first.conf"),
            "addAction(\"a.test.\", AllowAction())\n",
        )
        .unwrap();
        std::fs::write(c.join("notes.txt"), "this is not Lua\n").unwrap();
        std::fs::write(c.join(".hidden.conf"), "error('hidden file ran')\n").unwrap();
        std::fs::create_dir_all(c.join("dir.conf")).unwrap();
        let main = d.join("dnsdist.conf");
        std::fs::write(&main, "includeDirectory('conf.d')\n").unwrap();
        let cfg = crate::load(&main).unwrap();
        let actions: Vec<String> = cfg
            .shield
            .rules
            .rules()
            .iter()
            .map(|r| r.action.describe())
            .collect();
        assert_eq!(actions, ["allow", "drop"]);
    }

    #[test]
    fn errors_name_the_included_file_and_line() {
        let d = scratch("errors");
        std::fs::write(d.join("conf.d/bad.conf"), "\n\nnoSuchFunction()\n").unwrap();
        let main = d.join("dnsdist.conf");
        std::fs::write(&main, "includeDirectory('conf.d')\n").unwrap();
        let e = crate::load(&main).unwrap_err();
        assert!(e.to_string().contains("bad.conf:3:"), "{e}");

        std::fs::write(d.join("conf.d/bad.conf"), "includeDirectory('.')\n").unwrap();
        let e = crate::load(&main).unwrap_err();
        assert!(
            e.to_string()
                .contains("bad.conf:1: includeDirectory() cannot be used recursively"),
            "{e}"
        );

        let e = crate::load_str(
            "\nincludeDirectory('/nonexistent/conf.d')\n",
            Path::new("/x/dnsdist.conf"),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/x/dnsdist.conf:2: includeDirectory: /nonexistent/conf.d:"),
            "{e}"
        );
    }
}
