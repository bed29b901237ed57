//! The user documentation `docs/events.md`, rendered from the event table (`mod.rs`).
//!
//! In: [`EventKind::ALL`] and its accessors. Out: [`EventKind::catalogue_markdown`], the page;
//! `core/tests/events_doc.rs` checks that the committed file equals it.

use super::EventKind;

/// How many ids each module owns: module `n` owns `n00..=n99`.
const RANGE_WIDTH: u16 = 100;

/// The id ranges of the catalogue, in order: (first id, section title, module).
const ID_RANGES: [(u16, &str, &str); 9] = [
    (100, "Cluster service and lifecycle", "cluster service and cluster lifecycle"),
    (200, "Membership and heartbeats", "membership and heartbeats"),
    (300, "Network-partition resolution", "network-partition resolution"),
    (400, "Groups", "groups"),
    (500, "Resources and exec scripts", "resources and exec scripts"),
    (600, "Monitors and recovery", "monitors and recovery"),
    (700, "Mirror and hybrid disks", "mirror and hybrid disks"),
    (800, "Operator commands", "operator commands"),
    (900, "Self-fencing and shutdown", "self-fencing and shutdown"),
];

/// The index in [`ID_RANGES`] of the range holding `id`, if any.
fn id_range_index(id: u16) -> Option<usize> {
    ID_RANGES.iter().position(|&(first, _, _)| id >= first && id - first < RANGE_WIDTH)
}

/// "100–199" for the range starting at `first`.
fn id_range_label(first: u16) -> String {
    format!("{}–{}", first, first + RANGE_WIDTH - 1)
}

/// A table cell: `|` would end the cell early.
fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

const CATALOGUE_INTRO: &str = "\
<!-- Generated from `EventKind` (core/src/event_kind/mod.rs); do not edit by hand.
     Regenerate with: BATON_BLESS=1 cargo test -p baton-core --test events_doc -->

# Event catalogue

Events are how a baton server reports what it decided and why: a peer was lost, a network
partition was resolved, a group failed over, a monitor went into error, a mirror was rebuilt.
Every event the cluster emits has a stable kebab-case **name**, a numeric **id** and a
**severity** (`info`, `warning` or `error`). This page lists them all.

## Where events appear

- In the **timeline** printed by `baton sim run` (time, server, event), see
  [Running it](scenarios.md#running-it).
- In **scenarios**: `expect event EVENT [on SERVER]` and `expect no event EVENT` use the names
  below, see [Events](scenarios.md#events).
- In the **event log** of each server, written by the daemon (and by the simulator with
  `--trace FILE`) and read with `baton log show` and `baton log why`.

## What an event carries

Every event carries:

- the **time** it was emitted;
- the **emitting server**: \"on S\" in the tables below names the server that emits the event, and
  `expect event EVENT on S` matches that server;
- the **fields named in its row**: the group, resource, monitor or peer it is about, and a reason
  or detail (a count, a target, a failure message, the final action taken). A mirror is named by
  its `mirror-disk` or `hybrid-disk` resource;
- its **cause**: the earlier event it follows from and the rule that decided it (for example
  \"reactivations 1 < 3\"). `baton log why EVENT` follows the causes back and prints the decision
  as a chain: monitor failed twice → reactivation threshold reached → failover to server2.

## Ids

Ids are grouped by module:

";

const CATALOGUE_READING: &str = "
In the tables below, **emitted when** says when the event is emitted and, in parentheses, on
which server. \"At D\" is the instant a peer is judged lost (its last heartbeat on any path plus
`heartbeat_timeout`); \"at V\" is the instant of the network-partition verdict. References such as
(B13) name the rule of baton's behaviour specification that emits the event.

The **seed** column names the message of the seed manuals (the CLUSTERPRO manuals baton's
behaviour was derived from) that the event corresponds to: `000` = `000_9797c4153f9a6ffa.txt`,
CLUSTERPRO for Windows Ver7.0, operation and maintenance guide (event-log ids of §7.2.1, mirror
driver ids of §7.2.2 \"RASCAL\", server-log modules of §7.4.2); `001` = `001_ee5158df66a084d2.txt`,
CLUSTERPRO for Linux Ver3.0, maintenance guide (module and event id of §12.1, e.g. `rc 32`);
`002` = `002_0bc818716591e68c.txt`, CLUSTERPRO X 4.1 for Windows, installation and configuration
guide; `003` = `003_bf9eae57c5c7f25d.txt`, CLUSTERPRO for Linux, system design (advanced); `004` =
`004_4039750639cfe815.txt`, CLUSTERPRO for Windows Ver7.0, system design (basic, mirror disk).
\"—\" means the event has no seed message.
";

const CATALOGUE_SEEDS_NOT_KEPT: &str = "
## Seed messages not kept

These seed conditions have no event because baton has no such feature: licences (001 rm 50–59,
mdadm 8–15; 000 2502, 2503), the manager GUI, cluster lock and registration (000 §7.3), UPS and
automatic power control (000 2020–2023, 2106, 2210, 2211), the line switching device (000 8001–8017),
printer spool (000 7001), virtual computer names (000 12200–12204), registry synchronisation, VI
boards (000 10000–10007), server management boards (000 17000–17002), VERITAS Volume Manager
(000 24000–24232; 001 vxvg, vxvol), Exchange (000 25000–25012), the Windows filter driver and
cross-call disks (000 4222, 5009), the client mailslot and auto update (000 6005–6008), the
script commands ARMLOAD, ARMCALL and their messages (000 §7.4.1; application monitoring is
done by `process` and `exec` monitors), the parameter-tuning log (000 PTUN), mirror driver memory
and protocol details (001 §12.2 liscal, 000 RASCAL 5–18), and installer error codes (000 §7.5).
";

impl EventKind {
    /// The user documentation of the catalogue, `docs/events.md`: an introduction, the id
    /// ranges, one table per range (in id order) and the seed messages not kept.
    pub fn catalogue_markdown() -> String {
        let mut out = String::from(CATALOGUE_INTRO);
        out.push_str("| range | module |\n|---|---|\n");
        for &(first, _, module) in &ID_RANGES {
            out.push_str(&format!("| {} | {} |\n", id_range_label(first), module));
        }
        out.push_str(CATALOGUE_READING);
        for (index, &(first, title, _)) in ID_RANGES.iter().enumerate() {
            let mut kinds: Vec<EventKind> =
                EventKind::ALL.iter().copied().filter(|k| id_range_index(k.id()) == Some(index)).collect();
            kinds.sort_by_key(|k| k.id());
            out.push_str(&format!("\n## {} {}\n\n", id_range_label(first), title));
            out.push_str("| id | event | severity | emitted when | seed |\n|---|---|---|---|---|\n");
            for kind in kinds {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} |\n",
                    kind.id(),
                    kind.name(),
                    kind.severity().name(),
                    markdown_cell(kind.description()),
                    markdown_cell(kind.seed()),
                ));
            }
        }
        out.push_str(CATALOGUE_SEEDS_NOT_KEPT);
        out
    }
}
