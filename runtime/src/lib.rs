//! The production runtime of baton: everything that does I/O around the pure
//! `baton_core::Node`. So far: the authenticated cluster transport ([`transport`]) and the
//! daemon loop ([`daemon`], first slice: see its limitations).

pub mod daemon;
pub mod transport;
