//! Where Lua's output goes: stdout normally, the console reply while a
//! console command runs (dnsdist's output buffer).

use std::cell::RefCell;

thread_local! {
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Writes `text` to the current output.
pub fn emit(text: &str) {
    let captured = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(buf) => {
            buf.push_str(text);
            true
        }
        None => false,
    });
    if !captured {
        print!("{text}");
    }
}

/// Runs `f` with output captured; returns what it wrote.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
    let result = f();
    let out = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (result, out)
}
