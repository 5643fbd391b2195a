//! The bad-input battery: what a hostile or broken peer may send, case by
//! case, each with the exact refusal it must get — and, after every case, a
//! *sentinel* (a WebSocket and an SSE subscriber on the same engine) that
//! must receive a message published then, so "nothing else was disturbed"
//! is checked, not assumed.
//!
//! One engine per family; each family counts its cases, prints the count
//! and asserts it reaches the family's floor in [`FLOORS`], so cases cannot
//! silently vanish. The floors add up to at least [`TOTAL_FLOOR`].
//!
//! Families, by file: malformed request lines and headers ([`requests`]);
//! oversized heads and bodies, chunked garbage and smuggling ([`bodies`]);
//! WebSocket handshakes ([`handshake`]); frames after the upgrade —
//! protocol violations and sizes ([`frames`]), invalid UTF-8 ([`utf8`]),
//! close frames, control frames and floods ([`control`]); bogus cursors on
//! every transport and ids the engine never gave ([`cursors`]); bad channel
//! names, literal dot names and bad query values ([`names`]); the local
//! socket ([`ipc`]); slow WebSocket peers ([`slow`]); token faults on every
//! carrier and transport ([`tokens`]). Slow HTTP peers (slowloris on each
//! endpoint) and the connection limits have their own files,
//! `tests/slowloris.rs` and `tests/limits.rs`, with a subscriber checked
//! the same way.
//! Shared: [`harness`] (tally, sentinel, raw HTTP, and the table-driven
//! runner each family feeds its cases to), [`wsraw`] (raw
//! WebSocket frames), [`ipcwire`] (the local socket's frames, the second
//! worker).
//!
//! `cargo test -p push-engine --test hostile -- --nocapture` prints each
//! family's count.

#[path = "../common/mod.rs"]
mod common;

mod bodies;
mod control;
mod cursors;
mod frames;
mod handshake;
mod harness;
mod ipc;
mod ipcwire;
mod names;
mod requests;
mod slow;
mod tokens;
mod utf8;
mod wsraw;

/// Each family's floor: the cases it must run.
pub const FLOORS: &[(&str, usize)] = &[
    ("requests", 81),
    ("bodies", 30),
    ("handshake", 38),
    ("frames", 33),
    ("frames-size", 9),
    ("utf8", 19),
    ("control", 32),
    ("floods", 4),
    ("cursors", 142),
    ("cursors-lost", 14),
    ("names", 78),
    ("names-literal", 5),
    ("queries", 26),
    ("ipc", 38),
    ("ipc-streams", 13),
    ("slow", 4),
    ("tokens", 254),
];

/// What the battery runs at least, all families together (the issue asks
/// for 200).
pub const TOTAL_FLOOR: usize = 200;

#[test]
fn the_floors_add_up_to_the_total() {
    let sum: usize = FLOORS.iter().map(|(_, n)| n).sum();
    println!("battery floors: {sum} cases over {} families", FLOORS.len());
    assert!(sum >= TOTAL_FLOOR, "{sum} < {TOTAL_FLOOR}");
}
