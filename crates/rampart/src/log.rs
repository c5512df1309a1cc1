//! Log lines on stderr (journald and supervisors add time stamps); the
//! replication threads write the same format through `xfr::log`.

pub use xfr::log::{error, info, warn};
