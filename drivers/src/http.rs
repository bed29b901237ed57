//! A minimal HTTP/1.1 client: for the `http` monitor (GET) and the `http`
//! network-partition probe (HEAD).
//!
//! In: an [`HttpUrl`] (`http://host[:port][/path]`, parsed with [`HttpUrl::parse`]), a
//! method and a timeout. Out: the status line of the answer ([`Response`]), or why there
//! was none (name resolution, connection refused, timeout, not HTTP).
//!
//! One request per connection (`Connection: close`): connect over
//! [`tokio::net::TcpStream`] (each address the name resolves to in turn), send the
//! request, read up to the end of the status line, close. Headers and body are not
//! read: both callers only need to know that the server answered, and with what status.
//! The whole exchange, name resolution included, is bounded by the timeout.
//!
//! Limits: no TLS (`https://` is refused by [`HttpUrl::parse`]), no redirects followed (a
//! 3xx is an answer), no proxy, no credentials in the URL.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest status line read; a server sending more without a line end is not HTTP.
const MAX_STATUS_LINE: usize = 8 * 1024;

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// A name, an IPv4 address or an IPv6 address (without brackets).
    pub host: String,
    pub port: u16,
    /// The request target: the path and query, `/` when the URL has none.
    pub path: String,
}

impl HttpUrl {
    /// `http://host[:port][/path][?query]`; a `#fragment` is dropped. `https://` is
    /// refused: TLS is not supported yet.
    pub fn parse(text: &str) -> Result<HttpUrl, String> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err(format!("{text:?}: https is not supported yet (use an http:// URL)"));
        }
        let Some(rest) = lower.starts_with("http://").then(|| &text["http://".len()..]) else {
            return Err(format!("{text:?} is not an http:// URL"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!("{text:?}: credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| format!("{text:?}: bad host or port"))?;
        if host.is_empty() {
            return Err(format!("{text:?}: no host"));
        }
        if path.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()) {
            return Err(format!("{text:?}: spaces or control characters in the path"));
        }
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        Ok(HttpUrl { host, port, path })
    }

    /// The `Host` header: the host, bracketed if IPv6, with the port unless it is 80.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → host and port (80 by default).
fn split_host_port(authority: &str) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => 80,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        return Some((host.to_string(), port));
    }
    match authority.split_once(':') {
        None => Some((authority.to_string(), 80)),
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
    }
}

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// The status line of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The reason phrase (`OK`, `Internal Server Error`), possibly empty.
    pub reason: String,
}

impl Response {
    /// 2xx or 3xx: what the `http` monitor counts as healthy.
    pub fn is_success_or_redirect(&self) -> bool {
        (200..400).contains(&self.status)
    }
}

/// One request; the status line of the answer, or why there was none within `timeout`.
pub async fn request(method: Method, url: &HttpUrl, timeout: Duration) -> Result<Response, String> {
    match tokio::time::timeout(timeout, exchange(method, url)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn exchange(method: Method, url: &HttpUrl) -> Result<Response, String> {
    let mut stream = connect(url).await?;
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: baton\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        method.as_str(),
        url.path,
        url.host_header()
    );
    stream.write_all(head.as_bytes()).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut got = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
            return parse_status_line(&got[..end]);
        }
        if got.len() > MAX_STATUS_LINE {
            return Err(format!("not an HTTP answer: no status line in the first {MAX_STATUS_LINE} bytes"));
        }
        let n = stream.read(&mut buf).await.map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            return if got.is_empty() {
                Err("the server closed the connection without answering".to_string())
            } else {
                // HTTP/1.0 servers may end a bare status line with the connection.
                parse_status_line(&got)
            };
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// Connects to the first address of the host that accepts.
async fn connect(url: &HttpUrl) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = match url.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, url.port)],
        Err(_) => tokio::net::lookup_host((url.host.as_str(), url.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
            .collect(),
    };
    let mut last = format!("{} resolves to no address", url.host);
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

/// `HTTP/1.1 200 OK` → status 200, reason `OK`.
fn parse_status_line(line: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(line);
    let bad = || format!("not an HTTP answer: {:?}", text.chars().take(80).collect::<String>());
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        return Err(bad());
    }
    let status = parts.next().unwrap_or_default();
    if status.len() != 3 {
        return Err(bad());
    }
    let status: u16 = status.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&status) {
        return Err(bad());
    }
    Ok(Response { status, reason: parts.next().unwrap_or_default().trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, path: &str) -> HttpUrl {
        HttpUrl { host: host.into(), port, path: path.into() }
    }

    #[test]
    fn parses_urls() {
        assert_eq!(HttpUrl::parse("http://10.0.0.1"), Ok(url("10.0.0.1", 80, "/")));
        assert_eq!(HttpUrl::parse("http://10.0.0.1:8080/health"), Ok(url("10.0.0.1", 8080, "/health")));
        assert_eq!(HttpUrl::parse(" HTTP://Example.com/a/b?x=1#frag "), Ok(url("Example.com", 80, "/a/b?x=1")));
        assert_eq!(HttpUrl::parse("http://host?q"), Ok(url("host", 80, "/?q")));
        assert_eq!(HttpUrl::parse("http://[::1]:81/x"), Ok(url("::1", 81, "/x")));
        assert_eq!(HttpUrl::parse("http://[fe80::2]"), Ok(url("fe80::2", 80, "/")));
    }

    #[test]
    fn refuses_bad_urls() {
        let err = HttpUrl::parse("https://10.0.0.1/").unwrap_err();
        assert!(err.contains("https is not supported yet"), "{err}");
        for bad in ["ftp://x", "10.0.0.1", "http://", "http://h:99999/", "http://h:x/", "http://u:p@h/", "http://[::1/"]
        {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(HttpUrl::parse("http://h/a b").is_err());
    }

    #[test]
    fn host_headers_and_display() {
        assert_eq!(url("h", 80, "/").host_header(), "h");
        assert_eq!(url("h", 8080, "/").host_header(), "h:8080");
        assert_eq!(url("::1", 81, "/x").host_header(), "[::1]:81");
        assert_eq!(url("::1", 81, "/x").to_string(), "http://[::1]:81/x");
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Ok(Response { status: 200, reason: "OK".into() }));
        assert_eq!(
            parse_status_line(b"HTTP/1.0 500 Internal Server Error"),
            Ok(Response { status: 500, reason: "Internal Server Error".into() })
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 204"), Ok(Response { status: 204, reason: String::new() }));
        for bad in [&b"SSH-2.0-OpenSSH"[..], b"HTTP/1.1 2000 OK", b"HTTP/1.1 abc", b"HTTP/1.1 099 x", b""] {
            assert!(parse_status_line(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(Response { status: 302, reason: String::new() }.is_success_or_redirect());
        assert!(!Response { status: 404, reason: String::new() }.is_success_or_redirect());
        assert!(!Response { status: 199, reason: String::new() }.is_success_or_redirect());
    }
}
