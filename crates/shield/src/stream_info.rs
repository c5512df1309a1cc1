//! What a query's transport says besides the DNS message: the server
//! name a TLS client asked for (SNI), and for DNS over HTTPS the HTTP
//! request. `SNIRule` and the `HTTP*Rule`s read it. Everything is
//! borrowed from the connection and the request: nothing is copied per
//! query for rules that may not exist.

/// The transport's facts about one query (none for UDP and plain TCP).
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamInfo<'a> {
    /// The TLS server name, lowercase, as the client sent it.
    pub sni: Option<&'a str>,
    pub http: Option<HttpInfo<'a>>,
    /// DNS over QUIC (TLS inside QUIC, no HTTP).
    pub quic: bool,
}

/// A DNS over HTTPS request.
#[derive(Clone, Copy, Debug)]
pub struct HttpInfo<'a> {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The `Host` header or HTTP/2 authority.
    pub host: &'a str,
    pub path: &'a str,
    /// After the `?`, as sent.
    pub query: &'a str,
    pub headers: &'a dyn Headers,
}

/// The request's headers, as the HTTP library keeps them.
pub trait Headers: std::fmt::Debug + Sync {
    /// The value of header `name` (lowercase), if it is text.
    fn get(&self, name: &str) -> Option<&str>;
    /// Each header whose value is text, name (lowercase) and value (for
    /// a Lua rule's `dq:getHTTPHeaders()`).
    fn each(&self, f: &mut dyn FnMut(&str, &str));
}

impl HttpInfo<'_> {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}
