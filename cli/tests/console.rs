//! The web console (issue 13 item 1) without a browser, against real `baton daemon`
//! processes: the page, the live stream, the operations' guard and credential, a group
//! moved from the console, TLS, and the start-up refusals of bad console files.
//!
//! Each test runs its cluster on loopback addresses of its own (127.X.Y.N: any 127/8
//! address is this machine's) with `exec` groups of real commands, over real TCP and
//! UDP. Waits are on conditions with deadlines. tests/console_browser.rs drives the
//! same page in a headless Chromium.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod http_client;
use http_client::{exchange, get, wait_for};

const PORT: u16 = 39_612;
const WEB_PORT: u16 = 39_613;
const TOKEN: &str = "s3cret-operator-token";

/// This test's own loopback address (`n` per test and server).
fn address(n: u8) -> String {
    let pid = std::process::id();
    format!("127.{}.{}.{n}", 10 + pid % 200, (pid / 200) % 250)
}

/// A cluster of the servers at `ips` (s1, s2, …) with group g1 on all of them.
fn cluster_file(ips: &[String], extra: &str) -> String {
    let mut f = format!(
        "[cluster]\nname = \"console\"\nheartbeat_interval = \"100ms\"\nheartbeat_timeout = \"1s\"\n\
         sync_wait = \"500ms\"\ninsecure = true\nport = {PORT}\nweb_port = {WEB_PORT}\n{extra}\n"
    );
    for (i, ip) in ips.iter().enumerate() {
        f += &format!("\n[[server]]\nname = \"s{}\"\naddresses = {{ lan1 = \"{ip}\" }}\n", i + 1);
    }
    let servers: Vec<String> = (1..=ips.len()).map(|i| format!("\"s{i}\"")).collect();
    f += &format!(
        "\n[[heartbeat]]\nname = \"lan1\"\nkind = \"lan\"\npriority = 1\n\n[[group]]\nname = \"g1\"\nservers = [{}]\n\n\
         [[group.resource]]\nname = \"e1\"\nkind = \"exec\"\nstart = \"/bin/true\"\nstop = \"/bin/true\"\n",
        servers.join(", ")
    );
    f
}

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    web: SocketAddr,
}

impl Daemon {
    /// Server `s{index+1}` of the cluster at `ips`; `files` are written next to the
    /// cluster file (name, text, mode) before the start.
    fn start(ips: &[String], index: usize, extra: &str, files: &[(&str, &str, u32)]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text, mode) in files {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("file");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("mode");
        }
        std::fs::write(dir.path().join("c.toml"), cluster_file(ips, extra)).expect("config");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["daemon", "--server", &format!("s{}", index + 1), "--fence", "exit", "--config"])
            .arg(dir.path().join("c.toml"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env_remove("RUST_LOG")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("baton daemon runs");
        let web = format!("{}:{WEB_PORT}", ips[index]).parse().expect("address");
        Daemon { child, dir, web }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Waits until `/api/status` shows g1 where `on` says.
    fn wait_location(&self, on: &str) -> serde_json::Value {
        let mut last = String::new();
        let found = wait_for(Duration::from_secs(30), || {
            let (code, _, body) = get(self.web, "/api/status").ok()?;
            last = format!("{code} {body}");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["locations"]["g1"][on] == "online").then_some(v)
        });
        found.unwrap_or_else(|| panic!("g1 not online on {on} through /api/status: {last}\n{}", self.log()))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /api/op/{op}` with `body` and the given extra header lines.
fn post(to: SocketAddr, op: &str, body: &str, headers: &[String]) -> (u16, String) {
    let mut raw = format!("POST /api/op/{op} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n");
    for h in headers {
        raw += &format!("{h}\r\n");
    }
    raw += &format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let (code, _, body) = exchange(to, raw.as_bytes()).expect("POST");
    (code, body)
}

/// The headers a console page sends (its own Origin, the guard, the token).
fn page_headers(to: SocketAddr, token: Option<&str>) -> Vec<String> {
    let mut h = vec![format!("Origin: http://{to}"), "X-Baton-Console: 1".to_string()];
    if let Some(t) = token {
        h.push(format!("Authorization: Bearer {t}"));
    }
    h
}

#[test]
fn the_page_is_one_self_contained_document() {
    let ips = vec![address(1)];
    let d = Daemon::start(&ips, 0, "", &[]);
    d.wait_location("s1");
    let (code, head, body) = get(d.web, "/").expect("GET /");
    assert_eq!(code, 200, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/html"), "{head}");
    assert!(lower.contains("content-security-policy: default-src 'none'"), "{head}");
    // Its style and script are in it; nothing is loaded from elsewhere.
    assert!(body.contains("<style>") && body.contains("EventSource(\"/api/events\")"), "{body}");
    assert!(!body.contains("/*STYLE*/") && !body.contains("/*SCRIPT*/"));
    for external in ["src=\"http", "href=\"http", "@import", "//cdn"] {
        assert!(!body.contains(external), "the page refers to something outside: {external}");
    }
    // The timeline's source and a causal chain, from the event log.
    let (code, _, log) = get(d.web, "/api/log?limit=50").expect("GET /api/log");
    assert_eq!(code, 200, "{log}");
    let events: Vec<serde_json::Value> = serde_json::from_str(&log).expect("JSON list");
    let online = events.iter().find(|e| e["event"] == "group-online").unwrap_or_else(|| panic!("{log}"));
    let (code, _, why) = get(d.web, &format!("/api/why?seq={}", online["seq"])).expect("GET /api/why");
    assert_eq!(code, 200, "{why}");
    let chain: serde_json::Value = serde_json::from_str(&why).expect("JSON");
    assert_eq!(chain["steps"][0]["seq"], online["seq"], "{why}");
    assert!(chain["steps"][0]["event"].as_str().unwrap_or_default().contains("group=g1"), "{why}");
    let (code, _, _) = get(d.web, "/api/why?event=no-such-event&at_ms=1").expect("GET /api/why");
    assert_eq!(code, 400);
}

/// Reads server-sent events from `s` until `want` accepts one (event name, data) or the
/// deadline passes; returns what was read.
fn read_events(s: &mut TcpStream, within: Duration, mut want: impl FnMut(&str, &str) -> bool) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut text = String::new();
    let mut seen = 0;
    while Instant::now() < deadline {
        let mut buf = [0u8; 16 * 1024];
        match s.read(&mut buf) {
            Ok(0) => return Err(format!("the stream ended: {text}")),
            Ok(n) => text += &String::from_utf8_lossy(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("{e}: {text}")),
        }
        // Whole events are separated by a blank line.
        while let Some(end) = text[seen..].find("\n\n") {
            let block = &text[seen..seen + end];
            seen += end + 2;
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_string()).unwrap_or_default()
            };
            if want(&field("event:"), &field("data:")) {
                return Ok(());
            }
        }
    }
    Err(format!("nothing wanted within {within:?}: {}", &text[text.len().saturating_sub(3000)..]))
}

#[test]
fn the_live_stream_delivers_a_change_within_a_deadline() {
    let ips = vec![address(2)];
    let d = Daemon::start(&ips, 0, "web_token_file = \"token\"", &[("token", TOKEN, 0o600)]);
    d.wait_location("s1");
    let mut s = TcpStream::connect_timeout(&d.web, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    // HTTP/1.0: the stream is the body until the connection closes (no chunk framing).
    s.write_all(b"GET /api/events HTTP/1.0\r\nHost: baton\r\n\r\n").expect("request");
    read_events(&mut s, Duration::from_secs(10), |event, data| {
        event == "status" && data.contains("\"g1\":\"online\"") && data.contains("\"operator\":true")
    })
    .expect("the first status");
    let asked = Instant::now();
    let (code, body) = post(d.web, "group/stop", r#"{"target": "g1"}"#, &page_headers(d.web, Some(TOKEN)));
    assert_eq!(code, 200, "{body}");
    // The event and the new status arrive without asking again.
    let mut got_event = false;
    read_events(&mut s, Duration::from_secs(10), |event, data| {
        got_event |= event == "event" && data.contains("\"group\":\"g1\"");
        got_event && event == "status" && data.contains("\"groups\":{\"g1\":\"offline\"}")
    })
    .unwrap_or_else(|e| panic!("no change on the stream: {e}\n{}", d.log()));
    assert!(asked.elapsed() < Duration::from_secs(10));
}

#[test]
fn operations_need_the_guard_the_origin_and_the_credential_then_move_a_group() {
    let ips = vec![address(3), address(4)];
    let files = [("token", TOKEN, 0o600)];
    let extra = "web_token_file = \"token\"";
    let d1 = Daemon::start(&ips, 0, extra, &files);
    let _d2 = Daemon::start(&ips, 1, extra, &files);
    d1.wait_location("s1");
    let move_g1 = r#"{"target": "g1", "to": "s2"}"#;
    let web = d1.web;
    // No guard header: a cross-site form could send this.
    let (code, body) = post(web, "group/move", move_g1, &[format!("Authorization: Bearer {TOKEN}")]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("x-baton-console"), "{body}");
    // Another site's page.
    let mut h = page_headers(web, Some(TOKEN));
    h[0] = "Origin: http://evil.example".to_string();
    let (code, body) = post(web, "group/move", move_g1, &h);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("evil.example"), "{body}");
    // No credential, a wrong one.
    let (code, body) = post(web, "group/move", move_g1, &page_headers(web, None));
    assert_eq!(code, 401, "{body}");
    let (code, body) = post(web, "group/move", move_g1, &page_headers(web, Some("guess")));
    assert_eq!(code, 401, "{body}");
    // Not an operation of the console.
    let (code, body) = post(web, "cluster/shutdown", "{}", &page_headers(web, Some(TOKEN)));
    assert_eq!(code, 404, "{body}");
    assert_eq!(d1.wait_location("s1")["locations"]["g1"]["s2"], serde_json::Value::Null);
    // The node's own refusal comes back in its words.
    let (code, body) = post(web, "group/start", r#"{"target": "g1"}"#, &page_headers(web, Some(TOKEN)));
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("is not offline"), "{body}");
    // With the credential the group moves.
    let (code, body) = post(web, "group/move", move_g1, &page_headers(web, Some(TOKEN)));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("group move g1 --to s2"), "{body}");
    let status = d1.wait_location("s2");
    assert_eq!(status["groups"]["g1"], "offline", "{status}");
    assert!(d1.log().contains("web console: `baton group move g1 --to s2`"), "{}", d1.log());
}

#[test]
fn a_console_without_a_token_file_is_read_only() {
    let ips = vec![address(5)];
    let d = Daemon::start(&ips, 0, "", &[]);
    d.wait_location("s1");
    let (code, body) = post(d.web, "group/stop", r#"{"target": "g1"}"#, &page_headers(d.web, Some(TOKEN)));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("read-only"), "{body}");
    assert_eq!(d.wait_location("s1")["groups"]["g1"], "online");
}

/// A throw-away self-signed certificate for `ip`: (certificate PEM, key PEM).
fn certificate(ip: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec![ip.to_string()]).expect("params");
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

#[test]
fn tls_serves_with_a_configured_certificate() {
    let ips = vec![address(6)];
    let (cert, key) = certificate(&ips[0]);
    let extra = "web_tls_cert = \"cert.pem\"\nweb_tls_key = \"key.pem\"";
    let d = Daemon::start(&ips, 0, extra, &[("cert.pem", &cert, 0o644), ("key.pem", &key, 0o600)]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).expect("PEM"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = format!("https://{}/", d.web);
    let page = wait_for(Duration::from_secs(20), || {
        runtime.block_on(async {
            let r = client.get(&url).send().await.ok()?;
            (r.status() == 200).then_some(r.text().await.ok()?)
        })
    })
    .unwrap_or_else(|| panic!("no page over TLS\n{}", d.log()));
    assert!(page.contains("EventSource"), "{page}");
    // Plain HTTP on the TLS port is not served.
    let (code, head, _) = get(d.web, "/api/status").expect("plain");
    assert_eq!(code, 0, "plain HTTP answered on the TLS port: {head}");
    // A client that does not trust the certificate refuses it.
    let strict = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    assert!(runtime.block_on(async { strict.get(&url).send().await }).is_err());
    assert!(d.log().contains(&format!("https://{}/", d.web)), "{}", d.log());
}

/// Runs a daemon that must refuse to start: its exit code and its stderr.
fn refused_start(n: u8, extra: &str, files: &[(&str, &str, u32)]) -> (Option<i32>, String) {
    let ips = vec![address(n)];
    let mut d = Daemon::start(&ips, 0, extra, files);
    let status = wait_for(Duration::from_secs(10), || d.child.try_wait().ok().flatten());
    let status = status.unwrap_or_else(|| panic!("the daemon started anyway:\n{}", d.log()));
    (status.code(), d.log())
}

#[test]
fn bad_console_files_stop_the_start_naming_the_file() {
    let tls = "web_tls_cert = \"cert.pem\"\nweb_tls_key = \"key.pem\"";
    let (cert, key) = certificate("127.0.0.1");
    // A missing certificate.
    let (code, log) = refused_start(7, tls, &[("key.pem", &key, 0o600)]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("cert.pem") && log.contains("cannot read the certificate"), "{log}");
    // A key that is not PEM.
    let (code, log) = refused_start(8, tls, &[("cert.pem", &cert, 0o644), ("key.pem", "not a key\n", 0o600)]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("key.pem") && log.contains("private key"), "{log}");
    // A key of another certificate.
    let (_, other_key) = certificate("127.0.0.1");
    let (code, log) = refused_start(9, tls, &[("cert.pem", &cert, 0o644), ("key.pem", &other_key, 0o600)]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("does not fit"), "{log}");
    // A token file others can read.
    let (code, log) = refused_start(10, "web_token_file = \"token\"", &[("token", TOKEN, 0o644)]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("token") && log.contains("chmod 600"), "{log}");
}
