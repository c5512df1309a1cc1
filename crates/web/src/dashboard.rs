//! The dashboard: one page and one script, compiled into the binary (no
//! resource from outside the server), polling `/jsonstat?command=rampart`
//! and `/api/v1/servers/localhost` every second. Each poll is one small
//! JSON answer computed from counters, so the page can stay open during
//! an attack.

use bytes::Bytes;
use hyper::StatusCode;

use crate::server::Answer;

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");

pub(crate) fn page() -> Answer {
    Answer::with(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(PAGE.as_bytes()),
    )
}

pub(crate) fn script() -> Answer {
    Answer::with(
        StatusCode::OK,
        "application/javascript; charset=utf-8",
        Bytes::from_static(SCRIPT.as_bytes()),
    )
}
