//! The state shared by the reading passes.
//!
//! In: the [`Walk`] (positions and diagnostics) and the [`Outline`] (tables and
//! names). Out: the [`Config`] being filled in, pass by pass, plus what later passes
//! need that the model does not hold (explicit `depends_on` lists, objects whose kind
//! could not be read). Also the name-list readers every pass uses.

use super::defaults;
use super::outline::{NameKind, Outline};
use super::toml_walk::{Obj, ObjRef, Sp, Walk};
use super::{Config, ResId, ServerId};
use std::collections::BTreeSet;

pub(crate) struct Ctx<'a> {
    pub w: Walk<'a>,
    pub o: Outline<'a>,
    pub cfg: Config,
    /// Objects whose `kind` is missing or unknown: their kind-specific checks are
    /// skipped so one mistake gives one message.
    pub bad_kind: BTreeSet<ObjRef>,
    /// The `depends_on` lists written in the file (None: the B62 default).
    pub explicit_deps: Vec<Option<Vec<ResId>>>,
}

/// A placeholder id for a reference that could not be resolved: never used to
/// index, only compared (the file is refused anyway).
pub(crate) const NO_RES: ResId = ResId(u16::MAX);

impl<'a> Ctx<'a> {
    pub fn new(w: Walk<'a>, o: Outline<'a>) -> Self {
        let name = o.cluster.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        let cfg = Config {
            cluster: defaults::cluster(name),
            servers: Vec::new(),
            server_groups: Vec::new(),
            heartbeats: Vec::new(),
            nps: Vec::new(),
            groups: Vec::new(),
            resources: Vec::new(),
            monitors: Vec::new(),
            observe: Default::default(),
            warnings: Vec::new(),
        };
        Ctx { w, o, cfg, bad_kind: BTreeSet::new(), explicit_deps: Vec::new() }
    }

    /// Every server in server order.
    pub fn all_servers(&self) -> Vec<ServerId> {
        (0..self.o.servers.len()).map(|i| ServerId(i as u16)).collect()
    }

    /// A list of names of one kind (`servers`, `start_after`, `depends_on`, …):
    /// unknown names and repeats are reported; `None` if the key is absent or not a
    /// list. An empty list is reported when `nonempty`.
    pub fn name_list(
        &mut self,
        o: &Obj<'a>,
        key: &'static str,
        kind: NameKind,
        nonempty: bool,
    ) -> Option<Sp<Vec<Sp<usize>>>> {
        let list = self.w.strings(o, key)?;
        if nonempty && list.v.is_empty() {
            let msg = format!("{}: `{key}` is empty: name at least one {}", o.label, kind.word());
            self.w.diags.error(list.at, msg);
        }
        let mut ids: Vec<Sp<usize>> = Vec::new();
        for n in &list.v {
            match self.o.names.find(kind, &n.v) {
                Some(i) if ids.iter().any(|x| x.v == i) => {
                    let msg = format!("{}: `{key}` names {} \"{}\" twice", o.label, kind.word(), n.v);
                    self.w.diags.error(n.at, msg);
                }
                Some(i) => ids.push(Sp { v: i, at: n.at, key_at: n.key_at }),
                None => {
                    let msg = format!("{}: `{key}` names unknown {} \"{}\"", o.label, kind.word(), n.v);
                    self.w.diags.error(n.at, msg);
                }
            }
        }
        Some(Sp { v: ids, at: list.at, key_at: list.key_at })
    }

    /// A `servers` list resolved to ids (unknown servers reported, B131 11).
    pub fn server_list(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<Vec<ServerId>>> {
        let l = self.name_list(o, key, NameKind::Server, true)?;
        Some(Sp { v: l.v.iter().map(|s| ServerId(s.v as u16)).collect(), at: l.at, key_at: l.key_at })
    }

    /// The name of a server, for messages.
    pub fn server_name(&self, s: ServerId) -> &str {
        self.o.servers.get(s.idx()).map_or("?", |n| n.name.as_str())
    }
}
