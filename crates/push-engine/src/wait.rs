//! A blocking wait from a thread that is not the runtime's (PHP's): what it
//! ends with, where its cursor goes next, and how often it looks up from
//! waiting. Shared by the in-process engine ([`crate::Engine::wait`]) and
//! both ends of the local socket ([`crate::ipc`]).

use std::sync::Arc;
use std::time::Duration;

use crate::hub::{Cursor, Lost};
use crate::message::{Id, Publication};

/// How long a blocking call sleeps before it gives its caller a chance to
/// handle signals (see [`crate::Engine::wait`]).
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// What a blocking wait ended with.
#[derive(Debug)]
pub struct Waited {
    /// The message, or `None` if the time ran out (or the wait was interrupted).
    pub publication: Option<Arc<Publication>>,
    /// Set if messages after the cursor were lost before this one.
    pub lost: Option<Lost>,
    /// Where the next wait must continue from to miss nothing.
    pub position: Id,
    /// Whether the caller's interrupt check ended the wait.
    pub interrupted: bool,
}

/// Where a wait that ends with no message leaves the cursor: where it
/// got to, unless it was told of a loss — then where it started, so the
/// next wait is told again and reports the loss with its message.
pub fn resume_at(cursor: Cursor, lost: Option<Lost>, position: Id) -> Id {
    match (cursor, lost) {
        (Cursor::After(start), Some(_)) => start,
        _ => position,
    }
}
