//! What a query's transport says besides the DNS message: the server
//! name a TLS client asked for (SNI), and for DNS over HTTPS the HTTP
//! request. `SNIRule` and the `HTTP*Rule`s read it.

/// The transport's facts about one query (none for UDP and plain TCP).
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    /// The TLS server name, lowercase, as the client sent it.
    pub sni: Option<String>,
    pub http: Option<HttpInfo>,
}

/// A DNS over HTTPS request.
#[derive(Clone, Debug, Default)]
pub struct HttpInfo {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The `Host` header or HTTP/2 authority.
    pub host: String,
    pub path: String,
    /// After the `?`, as sent.
    pub query: String,
    /// Names lowercase.
    pub headers: Vec<(String, String)>,
}

impl HttpInfo {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
