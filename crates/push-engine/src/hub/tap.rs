//! Taps: connections written by the publisher itself.
//!
//! A connection whose task has nothing queued can let the publisher write
//! each publication of its channel to its socket directly, as nchan's
//! worker does, instead of waking the connection's task for every delivery
//! (tokio's broadcast receive, the wake-up, the task's poll, then the
//! write). The connection registers a [`Tap`] with its subscription
//! ([`super::Subscription::tap`]); the channel offers it every live
//! publication, in order, under the channel's lock, right after handing it
//! to the broadcast ring. The tap decides: it writes the publication, or
//! leaves it to the connection's task, which reads it from the ring as
//! before. The hub knows nothing of sockets.

use std::sync::Arc;

use crate::message::Publication;

/// What the channel offers each live publication to.
pub trait Tap: Send + Sync + std::fmt::Debug + 'static {
    /// `p` was sent to the channel's subscribers, `sharing` of them taps
    /// on this engine. Called in publication order, never twice at once:
    /// by the publisher with the channel locked, or by the task of the
    /// tap's lane (`taps.rs`) after that. It must not block, and must not
    /// call back into the hub.
    fn offer(&self, p: &Arc<Publication>, sharing: usize);

    /// The connection must read its subscription: the channel closed
    /// (the engine is stopping), or the tap's lane fell behind and dropped
    /// what it held.
    fn close(&self);
}
