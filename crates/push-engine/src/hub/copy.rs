//! Copies: a protocol adapter may have every publication made through
//! push's open doors ([`Hub::publish`], [`Hub::send`]: `push_send()`,
//! `POST /publish`, WebSocket clients, Pusher events) published again, in
//! the adapter's own form, on a channel of its own — how a Mercure
//! subscriber of the topic `news` gets `push_send('news', …)`. The hub
//! knows nothing of the form: the adapter's [`Copier`] makes the copy.
//!
//! A copy is made where the publication was made (with a shared broker,
//! once, by the engine that published it, never by the engines that
//! mirror it), after the publication succeeded; it goes through the
//! `*_reserved` doors, so it is never copied again. A copy that fails
//! (the broker went away meanwhile, the engine stops) is dropped: the
//! publication itself stands.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::Hub;
use crate::config::Config;
use crate::message::Outgoing;

/// What to publish besides a publication.
#[derive(Debug)]
pub struct Copy {
    /// The channel it goes to (a reserved one, usually).
    pub channel: &'static str,
    pub msg: Outgoing,
    /// The history that channel keeps (see [`Hub::keep_history`]).
    pub history: (usize, Duration),
}

/// Gives the copy of a publication on a channel, if it has one.
pub type Copier = Arc<dyn Fn(&Config, &str, &Outgoing) -> Option<Copy> + Send + Sync>;

/// A hub's copier, once set.
#[derive(Default)]
pub(super) struct Slot(OnceLock<Copier>);

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Slot(copier)"
        } else {
            "Slot(none)"
        })
    }
}

impl Hub {
    /// Has every publication of the open doors copied by `copier` from now
    /// on. One copier per hub: a second call changes nothing.
    pub fn copy_with(&self, copier: Copier) {
        let _ = self.inner.copier.0.set(copier);
    }

    /// The copy of a publication about to be made on `channel`.
    pub(super) fn copy_of(&self, channel: &str, msg: &Outgoing) -> Option<Copy> {
        let copier = self.inner.copier.0.get()?;
        copier(&self.inner.config, channel, msg)
    }

    /// Publishes a copy in this process.
    pub(super) fn publish_copy(&self, copy: Option<Copy>) {
        if let Some(c) = copy {
            let (count, ttl) = c.history;
            if self.keep_history(c.channel, count, ttl).is_ok() {
                let _ = self.publish_any(c.channel, c.msg);
            }
        }
    }

    /// Publishes a copy in this process or through the shared broker.
    pub(super) async fn send_copy(&self, copy: Option<Copy>) {
        if let Some(c) = copy {
            let (count, ttl) = c.history;
            if self.keep_history(c.channel, count, ttl).is_ok() {
                let _ = self.send_reserved(c.channel, c.msg).await;
            }
        }
    }
}
