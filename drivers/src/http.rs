//! HTTP and HTTPS requests for the `http` monitor (GET) and the `http` network-partition
//! probe (HEAD), over reqwest (hyper + rustls).
//!
//! In: a URL as written in the cluster file and, optionally, a CA file (`ca_file`),
//! checked once by [`HttpTarget::new`] when the daemon starts; then a method and a
//! timeout per request. Out: the status of the answer ([`Response`]), or why there was
//! none (name resolution, connection refused, certificate refused, timeout, not HTTP).
//!
//! What a check means, and why the client is set up as it is:
//! * `https://` certificates are verified (chain and host name) against the system's
//!   trust store (`/etc/ssl/certs`, through rustls-native-certs), or, when `ca_file` is
//!   set, against the certificates of that PEM file **only**: a cluster watching an
//!   internal service pins that service's CA, and a public CA then cannot vouch for a
//!   look-alike. There is no switch to turn verification off: an answer over an
//!   unverified connection could come from anyone on the path.
//! * One fresh connection per request (no pooled connections): a check tests the network
//!   now, not a connection opened a minute ago.
//! * No redirects are followed (a 3xx is an answer), no proxy is used (the environment's
//!   `HTTP_PROXY` would route the probe around the network it is meant to test), no
//!   credentials in the URL (they would end up in the event log).
//! * The whole exchange, name resolution and TLS handshake included, is bounded by the
//!   timeout; headers are read, the body is not.

use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A checked target: its URL and the client that reaches it.
#[derive(Clone, Debug)]
pub struct HttpTarget {
    url: reqwest::Url,
    client: reqwest::Client,
    /// The CA file the client trusts instead of the system store, if any (for `Debug`
    /// and the comparisons of specs).
    ca_file: Option<String>,
}

impl PartialEq for HttpTarget {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url && self.ca_file == other.ca_file
    }
}

impl Eq for HttpTarget {}

impl HttpTarget {
    /// An `http://` or `https://` URL; `ca_file` (PEM, one or more certificates) replaces
    /// the system's trust store for `https://`. Errors name the URL or the file and what
    /// is wrong with it.
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<HttpTarget, String> {
        let url = parse_url(url)?;
        let mut builder = reqwest::Client::builder()
            .user_agent("baton")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            // The system store is loaded only where it is used: an `http://` target needs
            // none, and a host without /etc/ssl/certs can still check it.
            .tls_built_in_root_certs(url.scheme() == "https" && ca_file.is_none());
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| format!("{url}: cannot set up the HTTP client: {}", describe(&e)))?;
        Ok(HttpTarget { url, client, ca_file: ca_file.map(|p| p.display().to_string()) })
    }

    /// The URL, as it is requested.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// One request; the status of the answer, or why there was none within `timeout`.
    pub async fn request(&self, method: Method, timeout: Duration) -> Result<Response, String> {
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
        };
        let sent = self.client.request(method, self.url.clone()).timeout(timeout).send();
        // reqwest's own timeout covers the exchange; the outer one also bounds whatever
        // happens before it is armed.
        match tokio::time::timeout(timeout, sent).await {
            Err(_) => Err(no_answer(timeout)),
            Ok(Err(e)) if e.is_timeout() => Err(no_answer(timeout)),
            // The URL is already in front of every reason the callers print.
            Ok(Err(e)) => Err(describe(&e.without_url())),
            Ok(Ok(answer)) => {
                let status = answer.status();
                Ok(Response {
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or_default().to_string(),
                })
            }
        }
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {} ms", timeout.as_millis())
}

/// `http://` or `https://`, with a host, without credentials or spaces.
fn parse_url(text: &str) -> Result<reqwest::Url, String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("{text:?}: the scheme is {other}: use an http:// or https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?}: no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text:?}: credentials in the URL are not supported (they would be logged)"));
    }
    let mut url = url;
    url.set_fragment(None);
    Ok(url)
}

/// Every certificate of a PEM file; an unreadable file, or one without a certificate, is
/// an error (an empty trust store would refuse every server, silently).
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("the CA file {} is not PEM certificates: {}", path.display(), describe(&e)))?;
    if certs.is_empty() {
        return Err(format!("the CA file {} holds no certificate (BEGIN CERTIFICATE)", path.display()));
    }
    Ok(certs)
}

/// An error with its causes: reqwest's own message is only "error sending request"; the
/// reason an operator needs (refused, unknown issuer, name mismatch) is in the sources.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

/// The status of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The standard reason phrase of the status (`OK`, `Internal Server Error`), or empty.
    pub reason: String,
}

impl Response {
    /// 2xx or 3xx: what the `http` monitor counts as healthy.
    pub fn is_success_or_redirect(&self) -> bool {
        (200..400).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        for (text, want) in [
            ("http://10.0.0.1", "http://10.0.0.1/"),
            ("http://10.0.0.1:8080/health", "http://10.0.0.1:8080/health"),
            (" HTTP://Example.com/a/b?x=1#frag ", "http://example.com/a/b?x=1"),
            ("http://[::1]:81/x", "http://[::1]:81/x"),
            ("https://[fe80::2]", "https://[fe80::2]/"),
            ("https://db.example:8443/ping", "https://db.example:8443/ping"),
        ] {
            assert_eq!(parse_url(text).map(|u| u.to_string()), Ok(want.to_string()), "{text}");
        }
    }

    #[test]
    fn refuses_bad_urls() {
        for (bad, why) in [
            ("ftp://x", "scheme is ftp"),
            ("10.0.0.1", "not a URL"),
            ("http://", "not a URL"),
            ("http://h:99999/", "not a URL"),
            ("http://u:p@h/", "credentials"),
            ("http://[::1/", "not a URL"),
        ] {
            let err = parse_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = HttpTarget::new("https://h/", Some(&missing)).unwrap_err();
        assert!(err.contains("cannot read the CA file"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = HttpTarget::new("https://h/", Some(&empty)).unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");
    }

    #[test]
    fn plain_http_needs_no_trust_store() {
        let t = HttpTarget::new("http://127.0.0.1:9/x", None).expect("target");
        assert_eq!(t.url(), "http://127.0.0.1:9/x");
        assert_eq!(t.to_string(), "http://127.0.0.1:9/x");
    }

    #[test]
    fn status_classes() {
        assert!(Response { status: 302, reason: String::new() }.is_success_or_redirect());
        assert!(!Response { status: 404, reason: String::new() }.is_success_or_redirect());
        assert!(!Response { status: 199, reason: String::new() }.is_success_or_redirect());
    }
}
