//! A plain HTTP/1.1 client for the tests of the daemon's endpoint and console: one
//! request per connection, the whole answer read, and a wait on a condition with a
//! deadline. Shared by cli/tests/observe.rs and cli/tests/console.rs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Calls `f` every 50 ms until it gives a value or `within` has passed.
pub fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `raw` and reads the whole answer: (status code, head, body).
pub fn exchange(to: SocketAddr, raw: &[u8]) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(raw)?;
    let mut answer = Vec::new();
    // A server that answers before reading everything may reset: keep what came.
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((code, head.to_string(), body.to_string()))
}

/// `GET path` with `Connection: close`.
pub fn get(to: SocketAddr, path: &str) -> std::io::Result<(u16, String, String)> {
    exchange(to, format!("GET {path} HTTP/1.1\r\nHost: baton\r\nConnection: close\r\n\r\n").as_bytes())
}
