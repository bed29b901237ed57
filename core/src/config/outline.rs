//! First pass over the document: find every table and claim every name.
//!
//! In: the root table. Out: an [`Outline`]: the tables of each kind in file order
//! (their index is their id in the model) and the [`Names`] namespace. Checked here:
//! unknown top-level tables, tables written with the wrong shape, missing or
//! malformed names, and names used twice anywhere in the file (B131 1). Names are
//! claimed in file position order so a clash is reported at the later occurrence,
//! whatever kinds the two tables are.

use super::keys;
use super::toml_walk::{Field, Obj, ObjRef, Pos, Sp, TabRef, Walk};
use super::{GroupId, ResId, ServerId, SgId};
use std::collections::BTreeMap;
use toml_edit::{Item, Table, Value};

/// The kinds of object that share one namespace (config.md "Names").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameKind {
    Cluster,
    Server,
    ServerGroup,
    Heartbeat,
    Np,
    Group,
    Resource,
    Monitor,
}

impl NameKind {
    pub fn word(self) -> &'static str {
        match self {
            NameKind::Cluster => "cluster",
            NameKind::Server => "server",
            NameKind::ServerGroup => "server_group",
            NameKind::Heartbeat => "heartbeat",
            NameKind::Np => "np",
            NameKind::Group => "group",
            NameKind::Resource => "resource",
            NameKind::Monitor => "monitor",
        }
    }
}

/// The namespace: every name with its owner, and per-kind lookups.
#[derive(Default)]
pub(crate) struct Names {
    owner: BTreeMap<String, (NameKind, Pos)>,
    index: BTreeMap<(NameKind, String), usize>,
}

impl Names {
    /// Claims `name` for `kind` #`idx`; reports a clash at the name's position.
    pub fn claim(&mut self, w: &mut Walk<'_>, kind: NameKind, idx: usize, name: &Sp<String>, label: &str) -> bool {
        if let Some((k, p)) = self.owner.get(&name.v) {
            let msg = format!(
                "{label}: the name \"{}\" is already used by {} \"{}\" (line {})",
                name.v,
                k.word(),
                name.v,
                p.line
            );
            w.diags.error(name.at, msg);
            return false;
        }
        self.owner.insert(name.v.clone(), (kind, name.at));
        self.index.insert((kind, name.v.clone()), idx);
        true
    }

    /// Who holds a name, if anyone.
    pub fn owner(&self, name: &str) -> Option<(NameKind, Pos)> {
        self.owner.get(name).copied()
    }

    pub fn find(&self, kind: NameKind, name: &str) -> Option<usize> {
        self.index.get(&(kind, name.to_string())).copied()
    }
    pub fn server(&self, name: &str) -> Option<ServerId> {
        self.find(NameKind::Server, name).map(|i| ServerId(i as u16))
    }
    pub fn server_group(&self, name: &str) -> Option<SgId> {
        self.find(NameKind::ServerGroup, name).map(|i| SgId(i as u16))
    }
    pub fn group(&self, name: &str) -> Option<GroupId> {
        self.find(NameKind::Group, name).map(|i| GroupId(i as u16))
    }
    pub fn resource(&self, name: &str) -> Option<ResId> {
        self.find(NameKind::Resource, name).map(|i| ResId(i as u16))
    }
}

/// A table of the file with its name ("" when missing or not a string).
#[derive(Clone)]
pub(crate) struct Named<'a> {
    pub obj: Obj<'a>,
    pub name: String,
}

/// Every table of the file, by kind, in file order.
#[derive(Default)]
pub(crate) struct Outline<'a> {
    pub cluster: Option<Named<'a>>,
    pub servers: Vec<Named<'a>>,
    pub server_groups: Vec<Named<'a>>,
    pub heartbeats: Vec<Named<'a>>,
    pub nps: Vec<Named<'a>>,
    pub groups: Vec<Named<'a>>,
    /// Every resource of every group, in file order (their `ResId`).
    pub resources: Vec<Named<'a>>,
    /// The group index of each resource.
    pub res_group: Vec<usize>,
    pub monitors: Vec<Named<'a>>,
    /// `[[alert]]` tables (unnamed or named outside the namespace: nothing refers to them).
    pub alerts: Vec<Obj<'a>>,
    pub names: Names,
}

/// A name waiting to be claimed: claims go in file order.
struct Pending {
    name: Sp<String>,
    kind: NameKind,
    idx: usize,
    label: String,
}

/// Whether a name matches `[A-Za-z][A-Za-z0-9_-]{0,30}` (config.md, B132).
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok {
        return Some(format!(
            "the name \"{name}\" is not valid: a name starts with a letter and holds only letters, digits, `_` and `-`"
        ));
    }
    let len = name.chars().count();
    if len > 31 {
        return Some(format!("the name \"{name}\" has {len} characters; the limit is 31 (B132)"));
    }
    None
}

pub(crate) fn outline<'a>(w: &mut Walk<'a>, root: &'a Table) -> Outline<'a> {
    let root_obj = w.obj(TabRef::Table(root), Pos::START, "file".into(), ObjRef::Root);
    let mut out = Outline::default();
    let mut pending = Vec::new();
    for f in w.fields(&root_obj) {
        match f.key {
            "cluster" => {
                let tab = match f.item {
                    Item::Table(t) => TabRef::Table(t),
                    Item::Value(Value::InlineTable(t)) => TabRef::Inline(t),
                    Item::Value(_) | Item::ArrayOfTables(_) | Item::None => {
                        w.diags.error(f.at, "`cluster` must be a table ([cluster])");
                        continue;
                    }
                };
                let obj = w.obj(tab, f.at, "cluster".into(), ObjRef::Cluster);
                out.cluster = Some(named(w, obj, NameKind::Cluster, 0, &mut pending));
            }
            "server" => out.servers = list(w, &f, NameKind::Server, ObjRef::Server, &mut pending),
            "server_group" => out.server_groups = list(w, &f, NameKind::ServerGroup, ObjRef::ServerGroup, &mut pending),
            "heartbeat" => out.heartbeats = list(w, &f, NameKind::Heartbeat, ObjRef::Heartbeat, &mut pending),
            "np" => out.nps = list(w, &f, NameKind::Np, ObjRef::Np, &mut pending),
            "monitor" => out.monitors = list(w, &f, NameKind::Monitor, ObjRef::Monitor, &mut pending),
            "group" => {
                out.groups = list(w, &f, NameKind::Group, ObjRef::Group, &mut pending);
                for (g, group) in out.groups.clone().iter().enumerate() {
                    let Some(rf) = w.get(&group.obj, "resource") else { continue };
                    let Some(tabs) = w.tables(rf.item, rf.at) else {
                        let msg =
                            format!("{}: `resource` must be an array of tables ([[group.resource]])", group.obj.label);
                        w.diags.error(rf.at, msg);
                        continue;
                    };
                    for (k, (tab, at)) in tabs.into_iter().enumerate() {
                        let idx = out.resources.len();
                        let label = format!("[[group.resource]] #{} of {}", k + 1, group.obj.label);
                        let obj = w.obj(tab, at, label, ObjRef::Resource(idx));
                        out.resources.push(named(w, obj, NameKind::Resource, idx, &mut pending));
                        out.res_group.push(g);
                    }
                }
            }
            "alert" => {
                let Some(tabs) = w.tables(f.item, f.at) else {
                    w.diags.error(f.at, "`alert` must be an array of tables ([[alert]])");
                    continue;
                };
                for (i, (tab, at)) in tabs.into_iter().enumerate() {
                    out.alerts.push(w.obj(tab, at, format!("[[alert]] #{}", i + 1), ObjRef::Alert(i)));
                }
            }
            other => {
                let known: Vec<String> = keys::TOP.iter().map(|k| format!("`{k}`")).collect();
                let msg = format!("unknown table `{other}` (known: {})", known.join(", "));
                w.diags.error(f.key_at, msg);
            }
        }
    }
    if out.cluster.is_none() {
        w.diags.error(Pos::START, "missing [cluster] table");
    }
    if out.servers.is_empty() {
        w.diags.error(Pos::START, "no [[server]] table: a cluster needs at least one server");
    }
    pending.sort_by_key(|p| p.name.at);
    for p in pending {
        out.names.claim(w, p.kind, p.idx, &p.name, &p.label);
    }
    out
}

/// The tables of one top-level array, named.
fn list<'a>(
    w: &mut Walk<'a>,
    f: &Field<'a>,
    kind: NameKind,
    mk: fn(usize) -> ObjRef,
    pending: &mut Vec<Pending>,
) -> Vec<Named<'a>> {
    let word = kind.word();
    let Some(tabs) = w.tables(f.item, f.at) else {
        w.diags.error(f.at, format!("`{word}` must be an array of tables ([[{word}]])"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, (tab, at)) in tabs.into_iter().enumerate() {
        let obj = w.obj(tab, at, format!("[[{word}]] #{}", i + 1), mk(i));
        out.push(named(w, obj, kind, i, pending));
    }
    out
}

/// Reads and checks an object's `name`, relabels the object with it, queues the claim.
fn named<'a>(w: &mut Walk<'a>, mut obj: Obj<'a>, kind: NameKind, idx: usize, pending: &mut Vec<Pending>) -> Named<'a> {
    let Some(name) = w.req_string(&obj, "name") else {
        return Named { obj, name: String::new() };
    };
    obj.label = format!("{} \"{}\"", kind.word(), name.v);
    if let Some(problem) = name_problem(&name.v) {
        w.diags.error(name.at, format!("{}: {problem}", obj.label));
    }
    pending.push(Pending { name: name.clone(), kind, idx, label: obj.label.clone() });
    Named { obj, name: name.v }
}
