//! The systemd service driver against a stand-in `systemctl`: a shell script in a
//! temporary directory that appends each invocation's arguments to `calls` and keeps the
//! unit's state in `state` (`active` or `inactive`), so the exact invocations can be
//! asserted. Files in the directory switch its behaviours (`start-fails`,
//! `start-does-nothing`, `start-hangs`).
//!
//! One test uses the real `systemctl` on a throw-away unit, only where systemd is PID 1;
//! elsewhere it prints why it is skipped.
//!
//! Script writes take [`FORK_GUARD`] exclusively and driver runs take it shared, so no
//! forked child holds a script open for writing while it is executed ("Text file busy",
//! see `tests/exec.rs`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_core::config::model::ResourceKind;
use baton_drivers::service::{self, ServiceSpec};
use tokio::sync::RwLock;

static FORK_GUARD: RwLock<()> = RwLock::const_new(());

const TIMEOUT: Duration = Duration::from_secs(10);

/// The stand-in `systemctl`; `$D` is its directory.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
D="$(dirname "$0")"
echo "$*" >> "$D/calls"
case "$1" in
  start)
    if [ -f "$D/start-hangs" ]; then echo $$ > "$D/hung.pid"; exec sleep 30; fi
    if [ -f "$D/start-fails" ]; then
      echo "Job for $2 failed because the control process exited with error code." >&2
      exit 1
    fi
    [ -f "$D/start-does-nothing" ] || echo active > "$D/state"
    ;;
  stop)
    echo inactive > "$D/state"
    ;;
  is-active)
    [ "$(cat "$D/state" 2>/dev/null)" = active ] && exit 0
    exit 3
    ;;
  *)
    echo "unknown command $1" >&2
    exit 1
    ;;
esac
"#;

struct Fake {
    dir: tempfile::TempDir,
    spec: ServiceSpec,
}

impl Fake {
    async fn new() -> Fake {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("systemctl");
        {
            let _excl = FORK_GUARD.write().await;
            fs::write(&path, FAKE_SYSTEMCTL).expect("write fake systemctl");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let spec = ServiceSpec::from_resource(&ResourceKind::Service { unit: "app.service".into() })
            .expect("spec")
            .with_systemctl(path);
        Fake { dir, spec }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn touch(&self, name: &str) {
        fs::write(self.file(name), "").expect("touch");
    }

    /// The invocations so far, one line each, and forgets them.
    fn take_calls(&self) -> Vec<String> {
        let calls = fs::read_to_string(self.file("calls")).unwrap_or_default();
        let _ = fs::remove_file(self.file("calls"));
        calls.lines().map(str::to_string).collect()
    }

    fn state(&self) -> String {
        fs::read_to_string(self.file("state")).unwrap_or_default().trim().to_string()
    }
}

#[tokio::test]
async fn start_stop_and_is_active_run_the_exact_commands() {
    let fake = Fake::new().await;
    let _shared = FORK_GUARD.read().await;

    assert_eq!(service::is_active(&fake.spec, TIMEOUT).await, Ok(false));
    assert_eq!(fake.take_calls(), ["is-active --quiet app.service"]);

    assert_eq!(service::start(&fake.spec, TIMEOUT).await, Ok(()));
    assert_eq!(fake.take_calls(), ["start app.service", "is-active --quiet app.service"]);
    assert_eq!(fake.state(), "active");
    assert_eq!(service::is_active(&fake.spec, TIMEOUT).await, Ok(true));
    let outcome = service::check(&fake.spec, TIMEOUT).await;
    assert!(outcome.healthy && outcome.detail == "app.service is active", "{outcome:?}");
    fake.take_calls();

    assert_eq!(service::stop(&fake.spec, TIMEOUT).await, Ok(()));
    assert_eq!(fake.take_calls(), ["stop app.service"]);
    assert_eq!(fake.state(), "inactive");
    assert_eq!(service::is_active(&fake.spec, TIMEOUT).await, Ok(false));
    let outcome = service::check(&fake.spec, TIMEOUT).await;
    assert!(!outcome.healthy && outcome.detail == "app.service is not active", "{outcome:?}");
    fake.take_calls();

    // A repeated stop is fine (systemctl's own rule).
    assert_eq!(service::stop(&fake.spec, TIMEOUT).await, Ok(()));
    assert_eq!(fake.take_calls(), ["stop app.service"]);
}

#[tokio::test]
async fn a_failed_start_carries_stderr_and_skips_the_check() {
    let fake = Fake::new().await;
    fake.touch("start-fails");
    let _shared = FORK_GUARD.read().await;
    let err = service::start(&fake.spec, TIMEOUT).await.unwrap_err();
    assert_eq!(
        err,
        "systemctl start app.service: exit code 1: Job for app.service failed because the control process exited with error code."
    );
    assert_eq!(fake.take_calls(), ["start app.service"]);
}

#[tokio::test]
async fn a_start_that_leaves_the_unit_inactive_fails() {
    let fake = Fake::new().await;
    fake.touch("start-does-nothing");
    let _shared = FORK_GUARD.read().await;
    let err = service::start(&fake.spec, TIMEOUT).await.unwrap_err();
    assert_eq!(err, "app.service: started, but not active afterwards");
    assert_eq!(fake.take_calls(), ["start app.service", "is-active --quiet app.service"]);
}

/// True once `pid` no longer exists (or is a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_hanging_systemctl_is_killed_at_the_timeout() {
    let fake = Fake::new().await;
    fake.touch("start-hangs");
    let _shared = FORK_GUARD.read().await;
    let started = Instant::now();
    let err = service::start(&fake.spec, Duration::from_millis(400)).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.ends_with("systemctl start app.service: timed out after 400 ms; killed"), "{err}");
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "took {took:?}");
    // The hung `systemctl` (exec'd into `sleep 30`, same pid) is killed, not left behind.
    let pid: u32 = fs::read_to_string(fake.file("hung.pid")).expect("hung.pid").trim().parse().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "the hung systemctl {pid} is still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.take_calls(), ["start app.service"]);
}

#[tokio::test]
async fn errors_of_systemctl_itself_are_errors_not_inactive() {
    // No systemd (a container): systemctl exits 1 with a message; that is not "inactive".
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("systemctl");
    {
        let _excl = FORK_GUARD.write().await;
        let body = "#!/bin/sh\necho 'System has not been booted with systemd as init system (PID 1). Can'\"'\"'t operate.' >&2\nexit 1\n";
        fs::write(&path, body).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let spec = ServiceSpec::new("app").expect("spec").with_systemctl(&path);
    let _shared = FORK_GUARD.read().await;
    let err = service::is_active(&spec, TIMEOUT).await.unwrap_err();
    assert!(err.starts_with("systemctl is-active app: exit code 1: System has not been booted"), "{err}");
    let outcome = service::check(&spec, TIMEOUT).await;
    assert!(!outcome.healthy && outcome.detail == err, "{outcome:?}");

    let missing = ServiceSpec::new("app").expect("spec").with_systemctl(dir.path().join("nope"));
    let err = service::stop(&missing, TIMEOUT).await.unwrap_err();
    assert!(err.starts_with(&format!("cannot run {}", dir.path().join("nope").display())), "{err}");
}

/// What PID 1 is called (`/proc/1/comm`).
fn pid1() -> String {
    fs::read_to_string("/proc/1/comm").map(|c| c.trim().to_string()).unwrap_or_else(|e| format!("unreadable: {e}"))
}

#[tokio::test]
async fn real_systemctl_when_systemd_runs_this_machine() {
    let init = pid1();
    if init != "systemd" {
        println!("skipped: systemd is not PID 1 here (PID 1 is {init})");
        return;
    }
    // A throw-away unit in /run (gone at reboot anyway), removed at the end.
    let unit = format!("baton-test-{}.service", std::process::id());
    let file = Path::new("/run/systemd/system").join(&unit);
    let sleep = ["/usr/bin/sleep", "/bin/sleep"].into_iter().find(|p| Path::new(p).is_file()).expect("sleep");
    fs::write(&file, format!("[Unit]\nDescription=baton driver test\n[Service]\nExecStart={sleep} 600\n"))
        .expect("write unit");
    let reload = || std::process::Command::new("systemctl").arg("daemon-reload").status().map(|s| s.success());
    assert_eq!(reload().ok(), Some(true), "systemctl daemon-reload");

    let spec = ServiceSpec::new(&unit).expect("spec");
    let result = async {
        assert_eq!(service::is_active(&spec, TIMEOUT).await, Ok(false));
        service::start(&spec, TIMEOUT).await?;
        assert_eq!(service::is_active(&spec, TIMEOUT).await, Ok(true));
        service::stop(&spec, TIMEOUT).await?;
        assert_eq!(service::is_active(&spec, TIMEOUT).await, Ok(false));
        Ok::<(), String>(())
    }
    .await;
    let _ = service::stop(&spec, TIMEOUT).await;
    let _ = fs::remove_file(&file);
    let _ = reload();
    assert_eq!(result, Ok(()));
}
