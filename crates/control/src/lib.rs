//! The console (dnsdist's `controlSocket`/`setKey`/`dnsdist -c`).
//!
//! - [`channel`]: the wire protocol — a 24-byte nonce exchange, then
//!   4-byte big-endian lengths and NaCl secretbox messages whose nonces
//!   count up after every message, so a replayed or reordered message
//!   fails to open;
//! - [`server`]: accepts console connections from the console ACL and
//!   hands each decrypted line to the control thread, which owns Lua;
//! - [`client`]: `rampart -c`, talking to rampart or to dnsdist.

pub mod channel;
pub mod client;
pub mod server;

pub use channel::{make_key, parse_key, Channel, Key, KeyError};
