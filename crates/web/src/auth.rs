//! Who may read what, as dnsdist decides it: the dashboard with the
//! password (HTTP basic authentication, any user name), the API with the
//! `X-API-Key` header, the statistics and the server summary with either;
//! each class can be opened with its `*RequireAuthentication` setting.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use config::web_lua::WebConfig;
use hyper::HeaderMap;

/// How a path is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// The dashboard and anything not below: the password.
    Dashboard,
    /// `/jsonstat`, `/metrics`: password or key.
    Stats,
    /// `/api/v1/servers/localhost` itself: password or key.
    Localhost,
    /// The rest of `/api/`: the key.
    Api,
    /// A `registerWebHandler` path: the password.
    Handler,
}

pub(crate) fn class(path: &str, web: &WebConfig) -> Class {
    match path {
        "/jsonstat" | "/metrics" => Class::Stats,
        "/api/v1/servers/localhost" => Class::Localhost,
        p if p.starts_with("/api/") => Class::Api,
        p if web.handlers.iter().any(|h| h == p) => Class::Handler,
        _ => Class::Dashboard,
    }
}

/// Whether the request's credentials open `class`.
pub(crate) fn allowed(class: Class, web: &WebConfig, headers: &HeaderMap) -> bool {
    let (required, basic, key) = match class {
        Class::Dashboard | Class::Handler => (web.dashboard_require_auth, true, false),
        Class::Stats => (web.stats_require_auth, true, true),
        Class::Localhost => (web.dashboard_require_auth, true, true),
        Class::Api => (web.api_require_auth, false, true),
    };
    !required || (basic && password_ok(web, headers)) || (key && api_key_ok(web, headers))
}

fn password_ok(web: &WebConfig, headers: &HeaderMap) -> bool {
    let Some(password) = &web.password else {
        return false;
    };
    headers
        .get_all(hyper::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(basic_password)
        .any(|given| password.matches(&given))
}

fn api_key_ok(web: &WebConfig, headers: &HeaderMap) -> bool {
    let Some(key) = &web.api_key else {
        return false;
    };
    headers
        .get_all("x-api-key")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|given| key.matches(given))
}

/// The password of an `Authorization: Basic …` value.
fn basic_password(value: &str) -> Option<String> {
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    Some(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::credential::Credential;

    fn web() -> WebConfig {
        WebConfig {
            password: Some(Credential::Plain("secret".into())),
            api_key: Some(Credential::Plain("key".into())),
            handlers: vec!["/foo".into()],
            ..Default::default()
        }
    }

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn each_class_takes_its_credentials() {
        let w = web();
        let basic = headers(&[("authorization", "Basic d2hhdGV2ZXI6c2VjcmV0")]); // whatever:secret
        let wrong = headers(&[("authorization", "Basic d2hhdGV2ZXI6ZXZpbA==")]); // whatever:evil
        let key = headers(&[("x-api-key", "key")]);
        let none = HeaderMap::new();
        for (path, by_basic, by_key) in [
            ("/", true, false),
            ("/index.html", true, false),
            ("/foo", true, false),
            ("/jsonstat", true, true),
            ("/metrics", true, true),
            ("/api/v1/servers/localhost", true, true),
            ("/api/v1/servers/localhost/config", false, true),
        ] {
            let c = class(path, &w);
            assert_eq!(allowed(c, &w, &basic), by_basic, "{path} basic");
            assert_eq!(allowed(c, &w, &key), by_key, "{path} key");
            assert!(!allowed(c, &w, &wrong), "{path} wrong");
            assert!(!allowed(c, &w, &none), "{path} none");
        }
    }

    #[test]
    fn settings_open_classes_and_missing_credentials_close_them() {
        let mut w = web();
        w.stats_require_auth = false;
        let none = HeaderMap::new();
        assert!(allowed(Class::Stats, &w, &none));
        assert!(!allowed(Class::Dashboard, &w, &none));
        assert!(!allowed(Class::Api, &w, &none));
        w.api_key = None;
        let key = headers(&[("x-api-key", "")]);
        assert!(!allowed(Class::Api, &w, &key));
        w.api_require_auth = false;
        assert!(allowed(Class::Api, &w, &none));
    }

    #[test]
    fn basic_values_parse() {
        assert_eq!(basic_password("Basic dTpwOnE="), Some("p:q".into())); // u:p:q
        assert_eq!(basic_password("basic   dTpw"), Some("p".into()));
        assert_eq!(basic_password("Bearer dTpw"), None);
        assert_eq!(basic_password("Basic !!"), None);
        assert_eq!(basic_password("Basic dXNlcg=="), None); // "user", no colon
    }
}
