//! End to end with a serial (COM) network-partition resolver (B38): two real `baton
//! daemon` processes in the two server namespaces of a `baton-lab` network, joined by a
//! "null-modem cable" made of a pseudo-terminal pair that `socat` links together (each
//! server names its own end: `device = { server1 = …, server2 = … }`). The cable is cut
//! by stopping `socat`; every LAN path by pulling every cable of server2
//! (`Lab::isolate`).
//!
//! * LAN cut, cable up: each side hears the other on the cable, so it is a partition:
//!   the master (server1) survives and takes over, server2 fences itself
//!   (`np-lost-tie-break`), and the floating IP is never on both servers at once.
//! * Cable and LAN cut together: both sides find the peer silent and both take over —
//!   the hazard B38 documents (so a serial resolver is used with a disk, B40).
//! * Cable cut first, then the peer crashes: the survivor's latest check found the peer
//!   silent, and the resolver had not been failing long enough to count as failed
//!   before the loss (`retries`), so it is right: the peer is down; it takes over.
//!
//! The same cable with a disk resolver on a shared loop device: the serial+disk unit of
//! the manuals' standard cluster (B40).
//! * LAN cut, cable up: the peer answered the latest serial check, so the serial rule
//!   decides (no disk fallback): the master keeps the group, server2 fences itself.
//! * Cable and LAN cut together: the unit falls back to the disk rule
//!   (`np-fallback-disk`) and, unlike serial alone, one side only survives: the master.
//!
//! One cluster at a time ([`SERIAL`]), as in `e2e.rs`. Needs root, `ip` and `socat`
//! (Debian package socat), and `losetup` for the serial+disk tests: otherwise each test
//! prints `skipped: …` and passes.

use baton_lab::daemon::{group_locations, logs_of, status, wait_or_panic, Daemon};
use baton_lab::{Cable, ClusterSpec, Lab, LabSpec, LoopDevice};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

const GROUP: &str = "failover1";
const START_WITHIN: Duration = Duration::from_secs(20);
const MOVE_WITHIN: Duration = Duration::from_secs(15);

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

fn skip() -> bool {
    if !baton_lab::is_root() {
        println!("skipped: needs root");
        return true;
    }
    if let Some(why) = baton_lab::missing_prerequisite() {
        println!("skipped: {why}");
        return true;
    }
    if Command::new("socat").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        println!("skipped: needs socat (Debian package socat)");
        return true;
    }
    false
}

/// Field order: daemons killed, then the cable, then the lab deleted, then the disk
/// detached.
struct Cluster {
    daemons: Vec<Daemon>,
    cable: Cable,
    lab: Lab,
    /// The disk resolver's shared device, for a serial+disk unit.
    _disk: Option<LoopDevice>,
}

impl Cluster {
    /// Two servers on `lan1` and `public` with the serial resolver; the group on
    /// server1 first.
    ///
    /// With `disk`, a disk resolver on a shared loop device too, so that the two make
    /// one serial+disk unit (B33, B40).
    fn start_with_disk(disk: bool) -> Cluster {
        let lab = Lab::new(LabSpec { servers: 2, ..LabSpec::default() }).expect("lab");
        let cable = Cable::plug(lab.dir()).expect("cable");
        let disk = disk.then(|| LoopDevice::zeroed(&lab.dir().join("np-disk.img"), 1 << 20).expect("loop device"));
        // Checks every 100 ms, each within 150 ms (their sum under the 500 ms heartbeat
        // timeout, B131); ten failed checks in a row before the resolver counts as
        // failing, so that a cable cut a moment before a crash is not yet "pre-failed".
        let extra = format!(
            "[[np]]\nname = \"com1\"\nkind = \"serial\"\ndevice = {{ server1 = \"{}\", server2 = \"{}\" }}\ninterval = \"100ms\"\ntimeout = \"150ms\"\nretries = 10\n",
            cable.end(1).display(),
            cable.end(2).display()
        );
        // The disk window of B34: 2 × max(heartbeat_timeout 500 ms, io_wait 1 s).
        let extra = match &disk {
            Some(d) => format!(
                "{extra}\n[[np]]\nname = \"disknp\"\nkind = \"disk\"\ndevice = \"{}\"\nio_wait = \"1s\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\n",
                d.path()
            ),
            None => extra,
        };
        let spec = ClusterSpec { extra, sync_wait_ms: 2_000, ..ClusterSpec::default() };
        let config = lab.write_config(&spec).expect("cluster file");
        let daemons = (1..=2).map(|s| lab.start_daemon(&baton(), &config, s).expect("daemon")).collect();
        Cluster { daemons, cable, lab, _disk: disk }
    }

    fn logs(&self) -> String {
        logs_of(&self.daemons)
    }

    fn wait(&self, what: &str, within: Duration, ok: impl FnMut() -> bool) {
        wait_or_panic(&self.daemons, what, within, ok);
    }

    fn wait_group_on(&self, server: usize, within: Duration) {
        let want = vec![(format!("server{server}"), "online".to_string())];
        let fip = self.lab.floating_address();
        self.wait(&format!("{GROUP} online on server{server} only, in both views"), within, || {
            self.lab.holders(fip) == vec![server]
                && (1..=2)
                    .all(|v| status(&baton(), &self.lab.state_dir(v)).is_ok_and(|s| group_locations(&s, GROUP) == want))
        });
    }

    fn move_to(&self, server: usize) {
        let out = Command::new(baton())
            .args(["group", "move", GROUP, "--to", &format!("server{server}"), "--state-dir"])
            .arg(self.lab.state_dir(1))
            .output()
            .expect("baton group move");
        assert!(out.status.success(), "group move: {}\n{}", String::from_utf8_lossy(&out.stderr), self.logs());
        self.wait_group_on(server, MOVE_WITHIN);
    }

    /// Both lines answer: on each server, no unanswered check was logged, or an answer
    /// was logged after the last one (a peer whose daemon started later did not answer
    /// the first checks).
    fn wait_cable_up(&self) {
        let up = |text: &str| match text.rfind("did not answer on the line") {
            None => true,
            Some(failed) => text.rfind("the peer answers on the line").is_some_and(|ok| ok > failed),
        };
        self.wait("both ends answer on the cable", MOVE_WITHIN, || self.daemons.iter().all(|d| up(&d.log_text())));
    }
}

/// The cluster of a test (one at a time, [`SERIAL`]): the group online on server1 and
/// the cable carrying both ways; `None` when the test is skipped. The guard comes first
/// so that a test binding `(_serial, c)` drops the cluster before letting the next in.
fn ready_cluster() -> Option<(std::sync::MutexGuard<'static, ()>, Cluster)> {
    ready_cluster_with_disk(false)
}

/// As [`ready_cluster`]; with `disk`, a serial+disk unit.
fn ready_cluster_with_disk(disk: bool) -> Option<(std::sync::MutexGuard<'static, ()>, Cluster)> {
    if skip() {
        return None;
    }
    if disk && Command::new("losetup").arg("--version").stdout(Stdio::null()).status().is_err() {
        println!("skipped: needs losetup (util-linux)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start_with_disk(disk);
    c.wait_group_on(1, START_WITHIN);
    c.wait_cable_up();
    Some((serial, c))
}

#[test]
fn lan_cut_with_the_cable_up_keeps_the_master_and_fences_the_other() {
    let Some((_serial, mut c)) = ready_cluster() else { return };
    master_keeps_the_group_and_server2_fences(&mut c, |c| c.lab.isolate(2).expect("isolate"));
}

/// The group moved to server2 (the one that will lose: the master takes it only after
/// server2 has let it go), then `cut`: until the master holds the address, never two
/// holders; server2 fences itself after losing the tie-break.
fn master_keeps_the_group_and_server2_fences(c: &mut Cluster, cut: impl FnOnce(&mut Cluster)) {
    c.move_to(2);

    let fip = c.lab.floating_address();
    cut(c);
    let deadline = Instant::now() + MOVE_WITHIN;
    loop {
        let holders = c.lab.holders(fip);
        assert!(holders.len() <= 1, "{fip} held by {holders:?} at once\n{}", c.logs());
        if holders == vec![1] {
            break;
        }
        assert!(Instant::now() < deadline, "server1 did not take {fip} over\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    let Some(ending) = c.daemons[1].wait_exit(Duration::from_secs(5)) else {
        panic!("server2 did not fence itself\n{}", c.logs());
    };
    assert_eq!(ending.code(), Some(1), "an unclean power action: {ending}\n{}", c.logs());
    assert!(c.daemons[1].log_text().contains("event=np-lost-tie-break"), "{}", c.logs());
    assert!(c.daemons[0].log_text().contains("event=np-resolved-peer-down"), "{}", c.logs());
    assert!(c.daemons[0].exit_status().is_none(), "server1 kept running\n{}", c.logs());
}

/// serial+disk over a real cable, LAN cut, cable up (B40's first branch): the serial
/// rule decides; the disk is not needed.
#[test]
fn serial_plus_disk_with_the_cable_up_decides_by_the_serial_rule() {
    let Some((_serial, mut c)) = ready_cluster_with_disk(true) else { return };
    master_keeps_the_group_and_server2_fences(&mut c, |c| c.lab.isolate(2).expect("isolate"));
    for d in &c.daemons {
        assert!(!d.log_text().contains("event=np-fallback-disk"), "server{}\n{}", d.server(), c.logs());
    }
}

/// serial+disk, cable and LAN cut together (B40's second branch): the unit falls back to
/// the disk rule, so only the master survives, where serial alone left both up (above).
#[test]
fn serial_plus_disk_with_cable_and_lan_cut_falls_back_to_the_disk() {
    let Some((_serial, mut c)) = ready_cluster_with_disk(true) else { return };
    master_keeps_the_group_and_server2_fences(&mut c, |c| {
        c.cable.cut();
        c.lab.isolate(2).expect("isolate");
    });
    for d in &c.daemons {
        assert!(d.log_text().contains("event=np-fallback-disk"), "server{}\n{}", d.server(), c.logs());
    }
}

#[test]
fn cable_and_lan_cut_together_leave_both_sides_up_as_b38_warns() {
    let Some((_serial, mut c)) = ready_cluster() else { return };

    c.cable.cut();
    c.lab.isolate(2).expect("isolate");
    // Both find the peer silent on the cable: both survive, and server2 starts the group
    // too (two owners: the documented hazard of a serial resolver alone).
    let fip = c.lab.floating_address();
    c.wait("the address on both servers (B38's hazard)", MOVE_WITHIN, || c.lab.holders(fip) == vec![1, 2]);
    for d in &mut c.daemons {
        assert!(d.exit_status().is_none(), "server{} fenced itself\n{}", d.server(), d.log_text());
        assert!(d.log_text().contains("event=np-resolved-peer-down"), "{}", d.log_text());
    }
}

#[test]
fn cable_cut_then_the_peer_crashes_and_the_survivor_takes_over() {
    let Some((_serial, mut c)) = ready_cluster() else { return };

    c.cable.cut();
    // Server2 has seen the cable fail (its first unanswered check is logged) …
    let before = c.daemons[1].log_text().matches("did not answer on the line").count();
    c.wait("server2 sees the cable silent", MOVE_WITHIN, || {
        c.daemons[1].log_text().matches("did not answer on the line").count() > before
    });
    // … then server1 crashes: its latest check found the peer silent and the resolver
    // is not failing yet (10 retries): the peer is down, server2 survives (B38).
    c.lab.crash(1).expect("crash");
    c.daemons[0].kill();
    let fip = c.lab.floating_address();
    c.wait("server2 holds the address", MOVE_WITHIN, || c.lab.holders(fip) == vec![2]);
    let survivor = c.daemons[1].log_text();
    assert!(survivor.contains("event=np-resolved-peer-down"), "{}", c.logs());
    assert!(!survivor.contains("event=np-lost") && !survivor.contains("event=np-resolution-failed"), "{}", c.logs());
    assert!(c.daemons[1].exit_status().is_none(), "server2 kept running\n{}", c.logs());
}
