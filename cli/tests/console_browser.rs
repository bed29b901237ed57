//! The web console in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, spoken to directly as HTTP+JSON), against a `baton-lab` cluster of
//! three daemons in network namespaces. The browser runs in the lab's client namespace
//! and opens server2's console; server1 holds the group.
//!
//! What it shows: the page loads and shows the group on server1; server1 crashes and
//! the page shows the group on server2 without being reloaded (a marker set in the page
//! survives); a move run from the page without the operator token is refused and the
//! group stays; with the token it moves to server3. Screenshots go to
//! `target/console-shots/`. Every wait has a deadline; a failure prints every log.
//!
//! Needs root, `ip`, `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; .ci/run installs them): otherwise it prints `skipped: …` and passes.

use baton_lab::daemon::{group_locations, status, Daemon};
use baton_lab::{in_namespace, wait_for, ClusterSpec, Lab, LabSpec};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const GROUP: &str = "failover1";
const TOKEN: &str = "browser-test-token";
/// chromedriver's port inside the client namespace.
const DRIVER_PORT: u16 = 9515;
const START_WITHIN: Duration = Duration::from_secs(30);
const MOVE_WITHIN: Duration = Duration::from_secs(20);

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| p.is_file()))
}

/// Why this test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if let Some(why) = baton_lab::missing_prerequisite() {
        return Some(why);
    }
    if which(&["chromedriver"]).is_none() {
        return Some("no chromedriver (apt-get install chromium-driver)".into());
    }
    if which(&["chromium", "chromium-browser"]).is_none() {
        return Some("no chromium (apt-get install chromium)".into());
    }
    None
}

/// chromedriver in a namespace, and one WebDriver session of it.
struct Browser {
    ns: String,
    driver: Child,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver request from inside `ns` (the socket is opened there).
fn webdriver(ns: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{DRIVER_PORT}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let stream = in_namespace(ns, || {
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], DRIVER_PORT)), Duration::from_secs(2))
    })?
    .map_err(|e| format!("chromedriver: {e}"))?;
    let mut stream = stream;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    stream.write_all(raw.as_bytes()).map_err(|e| format!("chromedriver: {e}"))?;
    // chromedriver keeps the connection open whatever `Connection` says: read the head,
    // then exactly Content-Length bytes.
    let mut answer = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let (head, body) = loop {
        let n = stream.read(&mut buf).map_err(|e| format!("chromedriver: {e}"))?;
        if n == 0 {
            return Err(format!("chromedriver closed: {}", String::from_utf8_lossy(&answer)));
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).to_string();
        let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
        let length = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
            .ok_or_else(|| format!("chromedriver answer without Content-Length: {head}"))?
            .map_err(|e| format!("chromedriver Content-Length: {e}"))?;
        if body.len() >= length {
            break (head.to_string(), body[..length].to_string());
        }
    };
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("chromedriver answer ({e}): {body}"))?;
    if v["value"].get("error").is_some() {
        return Err(format!("{method} {path}: {}", v["value"]));
    }
    Ok(v["value"].clone())
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out += &after[..n];
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

impl Browser {
    fn start(ns: &str) -> Browser {
        let driver = which(&["chromedriver"]).expect("chromedriver");
        let chromium = which(&["chromium", "chromium-browser"]).expect("chromium");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&driver)
            .arg(format!("--port={DRIVER_PORT}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        let ready = wait_for(Duration::from_secs(20), || webdriver(ns, "GET", "/status", None).ok());
        assert!(ready.is_some(), "chromedriver did not answer in namespace {ns}");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", format!("--user-data-dir={}", profile.path().display())]}}}});
        let session = webdriver(ns, "POST", "/session", Some(&caps)).expect("a browser session");
        let session = session["sessionId"].as_str().expect("session id").to_string();
        Browser { ns: ns.to_string(), driver: child, session, _profile: profile }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        webdriver(&self.ns, method, path, body)
    }

    fn open(&self, url: &str) {
        self.call("POST", &format!("/session/{}/url", self.session), Some(&json!({ "url": url }))).expect("navigate");
    }

    /// Runs `script` (a function body) in the page; its return value.
    fn js(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.call("POST", &format!("/session/{}/execute/sync", self.session), Some(&body)).unwrap_or(Value::Null)
    }

    fn screenshot(&self, name: &str) {
        let Ok(Value::String(b64)) = self.call("GET", &format!("/session/{}/screenshot", self.session), None) else {
            return;
        };
        let dir = shots_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), base64_decode(&b64));
    }
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-shots")
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Where the page shows the group (the servers of its `where` column).
fn page_locations(b: &Browser) -> Vec<String> {
    let v = b.js(&format!(
        "return [...document.querySelectorAll('tr[data-group=\"{GROUP}\"] .loc')]\
         .filter(e => e.querySelector('[data-state=\"online\"]')).map(e => e.dataset.server);"
    ));
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// The texts of the page's toasts (operation results).
fn toasts(b: &Browser) -> String {
    b.js("return [...document.querySelectorAll('.toast')].map(t => t.textContent).join('\\n');")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Chooses `to` in the group's row, presses "move to", confirms.
fn move_from_page(b: &Browser, to: &str) {
    b.js(&format!(
        "const row = document.querySelector('tr[data-group=\"{GROUP}\"]');\
         row.querySelector('select.to').value = '{to}'; row.querySelector('button.move').click();\
         document.getElementById('confirm-ok').click(); return true;"
    ));
}

#[test]
fn the_console_follows_a_crash_live_and_moves_a_group_with_the_token() {
    if let Some(why) = skip_reason() {
        println!("skipped: {why}");
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let spec = ClusterSpec::default();
    let config = lab.write_config(&spec).expect("cluster file");
    // The operator token, in [cluster] (the lab writes no console keys of its own).
    let token_file = config.with_file_name("web.token");
    std::fs::write(&token_file, TOKEN).expect("token");
    std::fs::set_permissions(&token_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("mode");
    let text = std::fs::read_to_string(&config).expect("read config");
    let text = text.replacen("[cluster]\n", &format!("[cluster]\nweb_token_file = \"{}\"\n", token_file.display()), 1);
    std::fs::write(&config, text).expect("write config");
    let daemons: Vec<Daemon> = (1..=3).map(|s| lab.start_daemon(&baton(), &config, s).expect("daemon")).collect();
    let logs = || daemons.iter().map(|d| format!("--- server{} ---\n{}", d.server(), d.log_text())).collect::<String>();
    let on = |viewer: usize, server: &str| {
        status(&baton(), &lab.state_dir(viewer))
            .is_ok_and(|s| group_locations(&s, GROUP).iter().any(|(s, st)| s == server && st == "online"))
    };
    assert!(wait_for(START_WITHIN, || on(2, "server1").then_some(())).is_some(), "no start\n{}", logs());

    let browser = Browser::start(lab.client_ns());
    let url = format!("http://{}:{}/", lab.address(2, "lan1"), spec.port + 1);
    browser.open(&url);
    let shown = wait_for(MOVE_WITHIN, || (page_locations(&browser) == ["server1"]).then_some(()));
    browser.screenshot("1-group-on-server1");
    assert!(shown.is_some(), "the page does not show {GROUP} on server1: {:?}\n{}", page_locations(&browser), logs());
    assert_eq!(browser.js("return document.getElementById('banner').dataset.health;"), "healthy");
    // A marker that a reload would lose.
    browser.js("window.__noReload = 42; return true;");

    lab.crash(1).expect("crash server1");
    let moved = wait_for(MOVE_WITHIN, || (page_locations(&browser) == ["server2"]).then_some(()));
    browser.screenshot("2-after-crash-on-server2");
    assert!(moved.is_some(), "the page does not follow the failover: {:?}\n{}", page_locations(&browser), logs());
    assert_eq!(browser.js("return window.__noReload;"), 42, "the page was reloaded");
    assert_eq!(browser.js("return document.getElementById('banner').dataset.health;"), "degraded");

    // Without the token: refused, the group stays.
    move_from_page(&browser, "server3");
    let refused = wait_for(Duration::from_secs(10), || toasts(&browser).contains("refused").then_some(()));
    browser.screenshot("3-move-refused-without-token");
    assert!(refused.is_some(), "no refusal shown: {}", toasts(&browser));
    assert!(toasts(&browser).contains("no operator token"), "{}", toasts(&browser));
    assert!(on(2, "server2"), "the group moved without the token\n{}", logs());

    // With the token.
    browser.js(&format!("const t = document.getElementById('token'); t.value = '{TOKEN}'; return true;"));
    move_from_page(&browser, "server3");
    let moved = wait_for(MOVE_WITHIN, || (page_locations(&browser) == ["server3"]).then_some(()));
    browser.screenshot("4-moved-to-server3");
    assert!(moved.is_some(), "the move did not happen: {}\n{}", toasts(&browser), logs());
    assert!(toasts(&browser).contains("accepted"), "{}", toasts(&browser));
    println!("screenshots in {}", shots_dir().display());
}
