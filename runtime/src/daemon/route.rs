//! Which path a cluster message takes.
//!
//! In: the configuration, this server's transport [`Topology`] and the peer. Out: the
//! `lan` path shared with the peer with the lowest `priority` value (ties: file order),
//! or `None` if they share none.
//!
//! Limitation of this slice: B12 says the preferred *working* path; the runtime does
//! not yet track which paths currently carry heartbeats, so a message to a peer whose
//! preferred path is cut is lost until a later state exchange repairs it (heartbeats
//! still go on every path).

use crate::transport::Topology;
use baton_core::config::{Config, PathId, ServerId};

pub fn message_path(cfg: &Config, topology: &Topology, to: ServerId) -> Option<PathId> {
    topology
        .paths
        .iter()
        .filter(|(_, addrs)| addrs.peers.contains_key(&to))
        .map(|(path, _)| *path)
        .min_by_key(|path| (cfg.heartbeats.get(path.idx()).map_or(u32::MAX, |h| h.priority), *path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_priority_value_wins() {
        let text = include_str!("../../../examples/configs/2node-mirror.toml");
        let cfg = baton_core::config::parse("2node-mirror.toml", text).unwrap().config;
        let t = Topology::from_config(&cfg, ServerId(0)).unwrap();
        let best = message_path(&cfg, &t, ServerId(1)).unwrap();
        let min = cfg.heartbeats.iter().map(|h| h.priority).min().unwrap();
        assert_eq!(cfg.heartbeats[best.idx()].priority, min);
        assert_eq!(message_path(&cfg, &t, ServerId(0)), None);
    }
}
