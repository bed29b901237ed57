//! What one input asks of a driver, split in the order it must be carried out: first
//! what must be durable, then what may be done (raft-rs's `Ready`).
//!
//! In: the [`Output`]s a [`crate::Node`] produced for one input, in its order
//! ([`crate::Node::step`]). Out: [`Ready::outputs`] (everything, in the node's order,
//! for the event log), then, through [`Ready::commit`], the [`Durable`] part (the state
//! to store, the catalogue events) handed to the driver's store, and only once that
//! store succeeded the [`Act`]s (packets, actions, timers, replies).
//!
//! Why: a driver that sends "I took the group" or starts a resource and then crashes
//! before storing the state that decided it restarts with a state that never saw it
//! (issue 9). The actions are reachable only through `commit`, after the store
//! returned `Ok`; a failed store drops them. A driver can still store nothing in the
//! closure, but then the wrong order is written out in its code, not hidden in a loop.

use crate::config::{Ms, PathId, ServerId};
use crate::event::Event;
use crate::io::{Action, ActionId, CommandId, Heartbeat, Message, Output, Persisted, Timer};

/// The outputs of one input, not yet carried out.
#[derive(Debug, Default)]
#[must_use = "the outputs of an input must be committed, then carried out"]
pub struct Ready {
    outputs: Vec<Output>,
}

/// What must be durable before any [`Act`] of the same input is carried out.
#[derive(Debug, Default, PartialEq)]
pub struct Durable {
    /// The state to store (the latest one this input produced), if it changed.
    pub persisted: Option<Box<Persisted>>,
    /// The catalogue events this input emitted, in order.
    pub events: Vec<Event>,
    /// Whether an act of this input needs the event log committed before it, even when
    /// no state is stored ([`Act::needs_log_commit`]), so that the log never misses a
    /// decision that reached the world.
    pub must_sync: bool,
}

/// What a driver does once the durable part is durable: every [`Output`] but `Emit`
/// and `Persist`, in the node's order.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    Heartbeat { to: ServerId, path: PathId, hb: Heartbeat },
    Send { to: ServerId, msg: Box<Message> },
    Execute { id: ActionId, action: Action },
    Cancel { id: ActionId },
    SetTimer { at_ms: Ms, timer: Timer },
    Reply { id: CommandId, result: Result<(), String> },
}

impl Act {
    /// Whether the event log must be committed (fsync) before this act. A heartbeat only
    /// repeats the shared state, which was stored (and the log committed) by the step that
    /// last changed it, so a tick that only sends heartbeats costs no fsync: at 100 ms
    /// heartbeats that would be ten log syncs a second for nothing a crash could lose.
    pub fn needs_log_commit(&self) -> bool {
        match self {
            Act::Send { .. } | Act::Execute { .. } | Act::Cancel { .. } | Act::Reply { .. } => true,
            Act::Heartbeat { .. } | Act::SetTimer { .. } => false,
        }
    }
}

impl Ready {
    /// The outputs of one input, in the node's order.
    pub fn new(outputs: Vec<Output>) -> Ready {
        Ready { outputs }
    }

    /// Everything the input produced, in the node's order: what the event log records.
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// The state this input stores, if any (the last `Persist`: each is the whole state).
    pub fn persisted(&self) -> Option<&Persisted> {
        self.outputs.iter().rev().find_map(|o| match o {
            Output::Persist(p) => Some(&**p),
            Output::Heartbeat { .. }
            | Output::Send { .. }
            | Output::Execute { .. }
            | Output::Cancel { .. }
            | Output::SetTimer { .. }
            | Output::Emit(_)
            | Output::Reply { .. } => None,
        })
    }

    /// Whether carrying out this input means more than heartbeats and timers: a state
    /// to store, a message, an action, a cancel or a reply. The simulator's crash points wait for such a
    /// step (a crash around a step with nothing to lose is an ordinary crash).
    pub fn is_consequential(&self) -> bool {
        self.outputs.iter().any(|o| match o {
            Output::Persist(_)
            | Output::Send { .. }
            | Output::Execute { .. }
            | Output::Cancel { .. }
            | Output::Reply { .. } => true,
            // A heartbeat repeats what the last shared state said; a step that only
            // sends heartbeats and arms timers loses nothing in a crash.
            Output::Heartbeat { .. } | Output::Emit(_) | Output::SetTimer { .. } => false,
        })
    }

    /// Hands the durable part to `store`, then, only if it returned `Ok`, the acts in
    /// the node's order. `store` must make `Durable::persisted` and the event log
    /// durable (fsync) before it returns; on `Err` nothing of this input may be done.
    pub fn commit<E>(self, store: impl FnOnce(Durable) -> Result<(), E>) -> Result<Vec<Act>, E> {
        let mut durable = Durable::default();
        let mut acts = Vec::with_capacity(self.outputs.len());
        for o in self.outputs {
            match Self::split(o) {
                // Each `Persist` is the whole state: the last one stands.
                Split::Persist(p) => durable.persisted = Some(p),
                Split::Emit(e) => durable.events.push(e),
                Split::Act(a) => {
                    durable.must_sync |= a.needs_log_commit();
                    acts.push(a);
                }
            }
        }
        store(durable)?;
        Ok(acts)
    }

    fn split(o: Output) -> Split {
        match o {
            Output::Persist(p) => Split::Persist(p),
            Output::Emit(e) => Split::Emit(e),
            Output::Heartbeat { to, path, hb } => Split::Act(Act::Heartbeat { to, path, hb }),
            Output::Send { to, msg } => Split::Act(Act::Send { to, msg }),
            Output::Execute { id, action } => Split::Act(Act::Execute { id, action }),
            Output::Cancel { id } => Split::Act(Act::Cancel { id }),
            Output::SetTimer { at_ms, timer } => Split::Act(Act::SetTimer { at_ms, timer }),
            Output::Reply { id, result } => Split::Act(Act::Reply { id, result }),
        }
    }
}

enum Split {
    Persist(Box<Persisted>),
    Emit(Event),
    Act(Act),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::io::{PowerAction, ServerState};

    fn outputs() -> Vec<Output> {
        vec![
            Output::Send { to: ServerId(1), msg: Box::new(Message::StateRequest) },
            Output::Emit(Event::new(EventKind::GroupStarting)),
            Output::Execute { id: 7, action: Action::Power(PowerAction::Panic) },
            Output::Persist(Box::new(Persisted { runs: 1, ..Persisted::default() })),
            Output::SetTimer { at_ms: 5, timer: Timer::Liveness },
            Output::Persist(Box::new(Persisted { runs: 2, ..Persisted::default() })),
        ]
    }

    #[test]
    fn acts_come_only_after_the_durable_part_was_stored() {
        let ready = Ready::new(outputs());
        assert_eq!(ready.outputs().len(), 6, "the log sees every output in the node's order");
        assert_eq!(ready.persisted().map(|p| p.runs), Some(2));
        let mut stored = None;
        let acts = ready
            .commit(|d| {
                stored = Some(d);
                Ok::<(), ()>(())
            })
            .unwrap();
        let d = stored.expect("store ran");
        assert_eq!(d.persisted.map(|p| p.runs), Some(2), "the last state stands");
        assert_eq!(d.events, vec![Event::new(EventKind::GroupStarting)]);
        assert!(d.must_sync, "a Send leaves the process");
        assert_eq!(
            acts,
            vec![
                Act::Send { to: ServerId(1), msg: Box::new(Message::StateRequest) },
                Act::Execute { id: 7, action: Action::Power(PowerAction::Panic) },
                Act::SetTimer { at_ms: 5, timer: Timer::Liveness },
            ]
        );
    }

    #[test]
    fn a_heartbeat_tick_needs_no_log_sync_but_a_message_does() {
        let hb = Output::Heartbeat {
            to: ServerId(1),
            path: PathId(0),
            hb: Heartbeat { run: 1, state: ServerState::Online, version: 1, sent_ms: 0 },
        };
        let sync_of = |outputs: Vec<Output>| {
            let mut sync = None;
            let _ = Ready::new(outputs).commit(|d| {
                sync = Some(d.must_sync);
                Ok::<(), ()>(())
            });
            sync.expect("store ran")
        };
        assert!(!sync_of(vec![hb.clone()]), "a heartbeat repeats a state already stored");
        assert!(sync_of(vec![hb, Output::Send { to: ServerId(1), msg: Box::new(Message::StateRequest) }]));
    }

    #[test]
    fn a_failed_store_drops_every_act() {
        let r: Result<Vec<Act>, &str> = Ready::new(outputs()).commit(|_| Err("disk full"));
        assert_eq!(r, Err("disk full"));
    }

    #[test]
    fn timers_alone_need_no_sync_and_are_not_consequential() {
        let ready = Ready::new(vec![Output::SetTimer { at_ms: 5, timer: Timer::Liveness }]);
        assert!(!ready.is_consequential());
        let mut sync = None;
        let acts = ready
            .commit(|d| {
                sync = Some(d.must_sync);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!((sync, acts.len()), (Some(false), 1));
        assert!(Ready::new(outputs()).is_consequential());
    }
}
