//! Test helpers: synthetic configurations built without the parser.

use crate::config::*;
use std::collections::BTreeMap;

/// `servers` servers, `groups` groups each with one floating IP, policy = all servers
/// rotated by the group index (so homes differ).
pub(crate) fn synthetic_config(servers: usize, groups: usize, exclusive: bool) -> Config {
    let server_ids: Vec<ServerId> = (0..servers).map(|i| ServerId(i as u16)).collect();
    let mut resources = Vec::new();
    let mut grps = Vec::new();
    for g in 0..groups {
        let mut policy = server_ids.clone();
        policy.rotate_left(g % servers.max(1));
        resources.push(Resource {
            name: format!("fip{g}"),
            group: GroupId(g as u16),
            kind: ResourceKind::FloatingIp {
                address: format!("10.0.{}.{}/16", g / 250, g % 250 + 1),
                interface: None,
                arp_count: 5,
                probe_window_ms: 20,
            },
            depends_on: vec![],
            activation: ActivationPolicy { retries: 0, failovers: 1, final_action: FinalAction::None },
            deactivation: DeactivationPolicy { retries: 0, final_action: FinalAction::StopServiceAndShutdown },
            timeout_ms: 60_000,
        });
        grps.push(Group {
            name: format!("g{g}"),
            policy,
            server_groups: None,
            startup: Startup::Auto,
            failover: FailoverMode::Auto,
            failback: Failback::Manual,
            failover_target: FailoverTarget::Priority,
            exclusive,
            start_after: vec![],
            resources: vec![ResId(g as u16)],
        });
    }
    Config {
        cluster: Cluster {
            name: "c".into(),
            heartbeat_interval_ms: 3000,
            heartbeat_timeout_ms: 30000,
            sync_wait_ms: 300_000,
            auto_return: false,
            failover_count_scope: CountScope::Server,
            np_action: NpAction::EmergencyShutdown,
            counter_reset_after_ms: 3_600_000,
            secret_file: None,
            insecure: true,
            port: 29002,
            web_port: 29003,
        },
        servers: (0..servers)
            .map(|i| Server {
                name: format!("server{}", i + 1),
                addresses: BTreeMap::from([("lan1".to_string(), format!("192.168.0.{}", i + 1))]),
            })
            .collect(),
        server_groups: vec![],
        heartbeats: vec![Heartbeat {
            name: "lan1".into(),
            kind: HeartbeatKind::Lan { network: "lan1".into() },
            priority: 1,
            servers: server_ids.clone(),
        }],
        nps: vec![],
        groups: grps,
        resources,
        monitors: vec![],
        observe: Default::default(),
        warnings: vec![],
    }
}
