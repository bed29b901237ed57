//! The [`Event`] record: a catalogue event ([`EventKind`]) with the fields its row
//! names and the cause that led to it, so `baton log why` can walk a decision back.
//!
//! In: built by the node's modules. Out: `Output::Emit(Event)`.

use crate::config::{GroupId, MonId, Ms, ResId, ServerId};
pub use crate::event_kind::{EventKind, Severity};
use serde::{Deserialize, Serialize};

/// One emitted event. The emitting server and the time are added by whoever records
/// the output (simulator, runtime log), since the core knows both from the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub group: Option<GroupId>,
    pub resource: Option<ResId>,
    pub monitor: Option<MonId>,
    pub peer: Option<ServerId>,
    /// A human reason or detail (a count, a target, a failure message).
    pub reason: Option<String>,
    /// Why this happened: the kind of the event that led to it, if any.
    pub cause: Option<Cause>,
}

/// The cause of an event: the input or earlier decision it follows from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// The earlier event this one follows from.
    pub after: Option<EventKind>,
    /// When that earlier event happened.
    pub at_ms: Option<Ms>,
    /// A short description of the deciding rule (e.g. "reactivations 1 < 3").
    pub rule: String,
}

impl Event {
    pub fn new(kind: EventKind) -> Event {
        Event { kind, group: None, resource: None, monitor: None, peer: None, reason: None, cause: None }
    }
    pub fn group(mut self, g: GroupId) -> Event {
        self.group = Some(g);
        self
    }
    pub fn resource(mut self, r: ResId) -> Event {
        self.resource = Some(r);
        self
    }
    pub fn monitor(mut self, m: MonId) -> Event {
        self.monitor = Some(m);
        self
    }
    pub fn peer(mut self, p: ServerId) -> Event {
        self.peer = Some(p);
        self
    }
    pub fn reason(mut self, r: impl Into<String>) -> Event {
        self.reason = Some(r.into());
        self
    }
    pub fn because(mut self, after: Option<EventKind>, rule: impl Into<String>) -> Event {
        self.cause = Some(Cause { after, at_ms: None, rule: rule.into() });
        self
    }
}
