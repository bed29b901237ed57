//! The lab itself on real namespaces: members reach each other on every network, a
//! pulled cable cuts one network of one server, isolation and healing, random UDP loss,
//! a crash, the cluster file, and no namespace or directory left after a drop (also
//! with two labs at once).
//!
//! Needs root and `ip` (and `nft` for the loss test); skipped with the reason printed
//! otherwise.

use baton_lab::{in_namespace, missing_prerequisite, wait_for, ClusterSpec, Lab, LabSpec, Service};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn skip() -> bool {
    match missing_prerequisite() {
        Some(why) => {
            println!("skipped: {why}");
            true
        }
        None => false,
    }
}

fn namespace_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn members_reach_each_other_on_every_network_and_a_drop_leaves_nothing() {
    if skip() {
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let names: Vec<String> = lab.namespaces().iter().map(|s| s.to_string()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    for n in &names {
        assert!(n.starts_with(&format!("bt{}", std::process::id())), "{n}");
        assert!(n.len() <= 15, "{n} is longer than 15 characters");
        assert!(namespace_exists(n), "{n}");
    }
    assert_eq!(lab.address(2, "lan1").to_string(), "10.77.1.2");
    assert_eq!(lab.address(3, "public").to_string(), "10.77.2.3");
    assert_eq!(lab.client_address("public").to_string(), "10.77.2.100");
    assert_eq!(lab.router_address().to_string(), "10.77.2.254");
    assert_eq!(lab.floating_cidr(), "10.77.2.50/24");
    assert_eq!(lab.subnet("lan1"), "10.77.1.0/24");

    for network in ["lan1", "public"] {
        assert!(lab.ping(lab.server_ns(1), lab.address(2, network)), "server1 -> server2 on {network}");
        assert!(lab.ping(lab.server_ns(3), lab.address(1, network)), "server3 -> server1 on {network}");
        assert!(lab.ping(lab.client_ns(), lab.address(2, network)), "client -> server2 on {network}");
    }
    assert!(lab.ping(lab.server_ns(2), lab.router_address()), "server2 -> router");
    // The interfaces are named after the networks and hold the lab's addresses.
    let addrs = lab.addresses_in(lab.server_ns(2)).expect("addresses");
    assert!(addrs
        .iter()
        .any(|a| a.interface == "public" && a.address == lab.address(2, "public") && a.prefix_len == 24));
    assert!(addrs.iter().any(|a| a.interface == "lan1" && a.address == lab.address(2, "lan1")));
    // No floating IP anywhere yet.
    assert!(lab.holders(lab.floating_address()).is_empty());
    // The client learns server1's MAC for its public address.
    assert!(lab.ping(lab.client_ns(), lab.address(1, "public")));
    let mac = lab.mac(lab.server_ns(1), "public").expect("mac");
    assert_eq!(lab.neighbour_mac(lab.client_ns(), lab.address(1, "public")).as_deref(), Some(mac.as_str()));

    let dir = lab.dir().to_path_buf();
    assert!(dir.is_dir());
    // Something still running in a namespace does not keep it alive: the drop kills it.
    let mut sleeper = lab.cmd_in(lab.server_ns(1)).args(["sleep", "600"]).spawn().expect("sleep");
    assert!(
        wait_for(Duration::from_secs(5), || (!baton_lab::pids_in(lab.server_ns(1)).is_empty()).then_some(())).is_some()
    );
    drop(lab);
    for n in &names {
        assert!(!namespace_exists(n), "{n} left behind");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
    let status = sleeper.wait().expect("wait");
    assert!(!status.success(), "the sleeper was killed: {status}");
}

#[test]
fn a_pulled_cable_cuts_one_network_and_healing_restores_it() {
    if skip() {
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let (s1, s2) = (lab.server_ns(1), lab.address(2, "lan1"));
    assert!(lab.ping(s1, s2));

    lab.link(1, "lan1", false).expect("pull");
    assert!(!lab.ping(s1, s2), "lan1 is cut");
    assert!(lab.ping(s1, lab.address(2, "public")), "public still works");
    // The server keeps its address: only the carrier is gone.
    assert!(lab.addresses_in(s1).expect("addresses").iter().any(|a| a.address == lab.address(1, "lan1")));

    lab.link(1, "lan1", true).expect("plug");
    assert!(wait_for(Duration::from_secs(5), || lab.ping(s1, s2).then_some(())).is_some(), "lan1 back");

    lab.isolate(1).expect("isolate");
    assert!(!lab.ping(s1, lab.address(2, "public")));
    assert!(!lab.ping(s1, lab.router_address()));
    assert!(!lab.ping(lab.client_ns(), lab.address(1, "public")));
    assert!(lab.ping(lab.server_ns(2), lab.address(3, "lan1")), "the others are not affected");

    lab.heal(1).expect("heal");
    assert!(wait_for(Duration::from_secs(5), || lab.ping(s1, lab.router_address()).then_some(())).is_some());
    assert!(lab.ping(s1, s2));
}

/// How many of `count` datagrams from server1 to server2 on `public` arrive.
fn udp_through(lab: &Lab, count: usize) -> usize {
    let to = SocketAddr::from((lab.address(2, "public"), 40000));
    let receiver = in_namespace(lab.server_ns(2), || UdpSocket::bind(to)).expect("ns").expect("bind");
    let from = SocketAddr::from((lab.address(1, "public"), 0));
    let sender = in_namespace(lab.server_ns(1), || UdpSocket::bind(from)).expect("ns").expect("bind");
    receiver.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            let mut buf = [0u8; 64];
            let mut n = 0;
            while receiver.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        });
        for i in 0..count {
            // Dropped by the nftables rule or not, a send succeeds.
            let _ = sender.send_to(&u32::try_from(i).unwrap_or(0).to_be_bytes(), to);
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        reading.join().expect("reader")
    })
}

#[test]
fn loss_drops_that_share_of_udp_and_nothing_else() {
    if skip() {
        return;
    }
    if baton_lab::find_program("nft").is_none() {
        println!("skipped: `nft` not found (Debian package nftables)");
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    assert_eq!(udp_through(&lab, 400), 400, "no loss at first");

    lab.loss(1, "public", 100).expect("loss 100");
    assert_eq!(udp_through(&lab, 100), 0, "all UDP dropped");
    assert!(lab.ping(lab.server_ns(1), lab.address(2, "public")), "ICMP is not touched");

    lab.loss(1, "public", 50).expect("loss 50");
    let got = udp_through(&lab, 400);
    // 400 draws at one half: outside 120..280 has a probability far below 1e-15.
    assert!((120..=280).contains(&got), "{got} of 400 went through at 50 % loss");

    lab.loss(1, "lan1", 100).expect("loss on lan1 too");
    lab.loss(1, "public", 0).expect("loss 0");
    assert_eq!(udp_through(&lab, 400), 400, "public clean again while lan1 keeps its loss");
}

#[test]
fn a_crash_kills_what_runs_and_drops_the_floating_addresses() {
    if skip() {
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let ns = lab.server_ns(1).to_string();
    let mut sleeper = lab.cmd_in(&ns).args(["sleep", "600"]).spawn().expect("sleep");
    let fip = lab.floating_cidr();
    let out = lab.output_in(&ns, "ip", &["addr", "add", &fip, "dev", "public"]).expect("ip");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lab.holders(lab.floating_address()), vec![1]);
    assert!(
        wait_for(Duration::from_secs(5), || lab.ping(lab.client_ns(), lab.floating_address()).then_some(())).is_some()
    );

    lab.crash(1).expect("crash");
    assert!(!sleeper.wait().expect("wait").success(), "killed");
    assert!(baton_lab::pids_in(&ns).is_empty());
    assert!(lab.holders(lab.floating_address()).is_empty(), "the floating IP went with the power");
    let left = lab.addresses_in(&ns).expect("addresses");
    assert!(left.iter().any(|a| a.address == lab.address(1, "public")), "its own addresses stay: {left:?}");
    assert!(!lab.ping(lab.client_ns(), lab.address(1, "public")), "cables pulled");

    lab.heal(1).expect("heal");
    assert!(wait_for(Duration::from_secs(5), || lab.ping(lab.client_ns(), lab.address(1, "public")).then_some(()))
        .is_some());
}

#[test]
fn the_cluster_file_is_accepted_by_baton_and_keeps_its_secret_private() {
    if skip() {
        return;
    }
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let path = lab.write_config(&ClusterSpec { ping_np: true, ..ClusterSpec::default() }).expect("config");
    let text = std::fs::read_to_string(&path).expect("read");
    let checked = baton_core::config::parse("cluster.toml", &text).expect("valid");
    let cfg = checked.config;
    assert_eq!(cfg.servers.len(), 3);
    assert_eq!(cfg.heartbeats.len(), 2);
    assert_eq!(cfg.cluster.heartbeat_interval_ms, 100);
    assert_eq!(cfg.cluster.heartbeat_timeout_ms, 500);
    assert_eq!(cfg.nps.len(), 1);
    assert!(text.contains("targets = [\"10.77.2.254\"]"), "{text}");
    assert!(text.contains("address = \"10.77.2.50/24\""), "{text}");
    assert!(text.contains("lan1 = \"10.77.1.1\", public = \"10.77.2.1\""), "{text}");
    let secret = path.parent().expect("etc").join("cluster.key");
    let mode = std::fs::metadata(&secret).expect("secret").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(lab.secret().expect("secret").len(), 64);
    for script in ["start.sh", "stop.sh"] {
        let mode = std::fs::metadata(path.parent().expect("etc").join(script)).expect("script").permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
    }

    let insecure = ClusterSpec {
        secret: false,
        service: Service::Scripts { start: "exit 0".into(), stop: "exit 0".into() },
        ..ClusterSpec::default()
    };
    let text = std::fs::read_to_string(lab.write_config(&insecure).expect("config")).expect("read");
    assert!(text.contains("insecure = true") && !text.contains("secret_file"), "{text}");
    assert!(!text.contains("[[np]]"), "{text}");

    // A file baton would refuse is refused here, with the checker's reasons.
    let bad = ClusterSpec { ping_np: true, np_interval_ms: 400, ..ClusterSpec::default() };
    let err = lab.write_config(&bad).expect_err("interval + timeout >= heartbeat_timeout");
    assert!(err.contains("heartbeat_timeout"), "{err}");
}

#[test]
fn two_labs_at_once_do_not_collide() {
    if skip() {
        return;
    }
    let a = Lab::new(LabSpec::default()).expect("lab a");
    let b = Lab::new(LabSpec { servers: 2, octet: 78, ..LabSpec::default() }).expect("lab b");
    assert_ne!(a.id(), b.id());
    assert_ne!(a.dir(), b.dir());
    assert!(a.ping(a.server_ns(1), a.address(3, "lan1")));
    assert!(b.ping(b.server_ns(1), b.address(2, "lan1")));
    let b_names: Vec<String> = b.namespaces().iter().map(|s| s.to_string()).collect();
    drop(b);
    assert!(b_names.iter().all(|n| !namespace_exists(n)));
    assert!(a.ping(a.server_ns(2), a.address(1, "public")), "a is untouched by b's drop");
}

#[test]
fn a_bad_spec_is_refused_before_anything_is_built() {
    if skip() {
        return;
    }
    for (spec, want) in [
        (LabSpec { servers: 0, ..LabSpec::default() }, "1 to 32 servers"),
        (LabSpec { networks: vec!["a-very-long-name".into()], ..LabSpec::default() }, "network name"),
        (LabSpec { public: "dmz".into(), ..LabSpec::default() }, "public network"),
    ] {
        let err = Lab::new(spec).expect_err("refused");
        assert!(err.contains(want), "{err}");
    }
}
