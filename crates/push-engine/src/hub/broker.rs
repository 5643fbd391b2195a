//! The hub's view of a shared broker: what it asks of one, whatever the
//! broker is. [`crate::broker`] implements it (Redis); the hub names no
//! implementation.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::{Cursor, Hub, Snapshot};
use crate::error::Result;
use crate::message::{Id, Outgoing};

/// A broker shared by several engines: it numbers publications, keeps each
/// channel's history, and hands every publication to every engine's hub.
pub trait Broker: Send + Sync + Debug + 'static {
    /// Where it is (a URL with no password), for logs and `php --ri push`.
    fn url(&self) -> &str;

    /// Appends `msg` to `channel`'s history and publishes it; returns its id.
    fn publish<'a>(&'a self, channel: &'a str, msg: &'a Outgoing) -> BoxFuture<'a, Result<Id>>;

    /// The channel's head and its history after `cursor` (all of it for a
    /// cursor of another epoch; none for a live start).
    fn read<'a>(&'a self, channel: &'a str, cursor: Cursor) -> BoxFuture<'a, Result<Snapshot>>;

    /// Keeps the heads of `channels` (those with subscribers here) alive.
    fn touch<'a>(&'a self, channels: &'a [Arc<str>]) -> BoxFuture<'a, Result<()>>;

    /// How often [`Broker::touch`] must run.
    fn touch_interval(&self) -> Duration;

    /// Applies what the broker delivers to `hub`, in the broker's order,
    /// until `cancel`; reconnects by itself.
    fn run(self: Arc<Self>, hub: Hub, cancel: CancellationToken) -> BoxFuture<'static, ()>;
}
