//! `--html` timelines through the binary (docs/timeline.md): a simulated run and a
//! traced run's logs drawn as a page, what each exit code means, and a screenshot of
//! each page where Chromium is installed (kept under target/timeline-shots/).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-timeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Every `data-from-ms`..`data-to-ms` of the spans whose class is `class` and whose
/// tooltip starts with `who` (a lane name, or `GROUP on SERVER`).
fn spans(html: &str, class: &str, who: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for piece in html.split("<rect ").skip(1) {
        if !piece.starts_with(&format!("class=\"{class}\"")) || !piece.contains(&format!("<title>{who}: ")) {
            continue;
        }
        let num = |key: &str| -> u64 {
            let at = piece.find(key).expect(key) + key.len();
            piece[at..].split('"').next().expect("value").parse().expect("number")
        };
        out.push((num("data-from-ms=\""), num("data-to-ms=\"")));
    }
    out
}

/// A PNG of the page, when a headless Chromium is here (the console's browser tests
/// install it in CI); otherwise says so and goes on.
fn screenshot(page: &Path, name: &str) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        eprintln!("no chromium here: no screenshot of {}", page.display());
        return;
    };
    let dir = root().join("target/timeline-shots");
    std::fs::create_dir_all(&dir).expect("shots dir");
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1440,900"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "a screenshot of the page was taken ({size} bytes at {})", png.display());
}

#[test]
fn sim_run_html_draws_the_failover_and_keeps_the_runs_exit_code() {
    let dir = scratch("sim");
    let page = dir.join("failover.html");
    let scenario = root().join("examples/scenarios/04-failover-on-crash.scenario");
    let out = baton().args(["sim", "run"]).arg(&scenario).arg("--html").arg(&page).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("digest"), "the usual report is printed too");
    let html = std::fs::read_to_string(&page).expect("the page is written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg id=\"timeline\""));
    let expects =
        std::fs::read_to_string(&scenario).expect("scenario").lines().filter(|l| l.contains(" expect ")).count();
    assert!(html.contains(&format!("{expects} expectations hold")) && !html.contains("expectations FAIL"));
    let on1 = spans(&html, "g-online", "failover1 on server1");
    let on2 = spans(&html, "g-online", "failover1 on server2");
    assert!(!on1.is_empty() && !on2.is_empty(), "the group is drawn on server1, then server2: {on1:?} {on2:?}");
    assert!(on1.iter().all(|a| on2.iter().all(|b| a.1 <= b.0)), "server1's band ends before server2's starts");
    assert!(html.contains("class=\"mark\" data-kind=\"fault\""), "the crash is marked");
    screenshot(&page, "sim-04-failover-on-crash");

    // A failing run: still drawn, the failed expectation in red, exit 1 as without --html.
    let failing = dir.join("failing.scenario");
    let text = std::fs::read_to_string(&scenario)
        .expect("scenario")
        .replace("config ../configs/", &format!("config {}/examples/configs/", root().display()));
    std::fs::write(&failing, format!("{text}\nat 10m expect group failover1 online on server1\n")).expect("write");
    let failed_page = dir.join("failing.html");
    let out = baton().args(["sim", "run"]).arg(&failing).arg("--html").arg(&failed_page).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&failed_page).expect("the page is written");
    assert!(html.contains("1 of ") && html.contains("expectations FAIL"));
    assert!(html.contains("data-kind=\"expect-fail\""));

    // A page that cannot be written: exit 2, saying where.
    let out = baton()
        .args(["sim", "run"])
        .arg(&scenario)
        .arg("--html")
        .arg(dir.join("no/such/dir/x.html"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--html"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn log_show_html_draws_every_servers_log_and_the_window_asked() {
    let dir = scratch("log");
    let traces = dir.join("trace");
    let scenario = root().join("examples/scenarios/09-ping-np-isolate-active.scenario");
    let out = baton().args(["sim", "run"]).arg(&scenario).arg("--trace").arg(&traces).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = dir.join("logs.html");
    let out = baton().args(["log", "show"]).arg(&traces).arg("--html").arg(&page).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("timeline of 2 servers written to"));
    let html = std::fs::read_to_string(&page).expect("page");
    for server in ["server1", "server2"] {
        assert!(!spans(&html, "s-online", server).is_empty(), "{server}'s lane is drawn");
    }
    assert!(html.contains("data-kind=\"verdict\"") && html.contains("data-kind=\"fence\""), "verdict and fence marked");
    screenshot(&page, "log-09-ping-np-isolate-active");

    // A window: nothing drawn outside it.
    let window = dir.join("window.html");
    let out = baton()
        .args(["log", "show"])
        .arg(&traces)
        .args(["--from", "0:01:10", "--to", "0:01:20", "--html"])
        .arg(&window)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&window).expect("page");
    let all = spans(&html, "s-online", "server1").into_iter().chain(spans(&html, "s-online", "server2"));
    for (from, to) in all {
        assert!(from >= 70_000 && to <= 80_000, "span {from}..{to} inside the window");
    }
    // --json and --html together are refused as a usage error.
    let out =
        baton().args(["log", "show"]).arg(&traces).args(["--json", "--html"]).arg(&window).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
