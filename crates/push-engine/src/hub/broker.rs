//! The hub's view of a shared broker: what it asks of one, whatever the
//! broker is. [`crate::broker`] implements it (Redis); the hub names no
//! implementation.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::presence::Member;
use super::{Activity, Counts, Cursor, Hub, Snapshot};
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

    /// Counts `member`'s first connection on presence `channel` in this
    /// engine; says whether it is its first anywhere (then every other
    /// engine is told, see [`Hub::presence_notice`]), and the members on
    /// the channel.
    fn presence_join<'a>(
        &'a self,
        channel: &'a str,
        member: &'a Member,
    ) -> BoxFuture<'a, Result<(bool, Vec<Member>)>>;

    /// Counts member `id`'s last connection on `channel` in this engine
    /// leaving; says whether it was its last anywhere (then every other
    /// engine is told).
    fn presence_leave<'a>(&'a self, channel: &'a str, id: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// The members of presence `channel`, on every engine.
    fn presence_members<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Vec<Member>>>;

    /// Sets this engine's subscriber count of each channel (0: none);
    /// returns the channels that became occupied or vacated cluster-wide.
    fn occupancy<'a>(
        &'a self,
        counts: &'a [(Arc<str>, usize)],
    ) -> BoxFuture<'a, Result<Vec<Activity>>>;

    /// Occupied channels whose names start with `prefix`, and their
    /// subscriber counts summed over the engines.
    fn occupied<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Counts>>;

    /// Marks this engine alive for `push.presence_ttl` (with `retire`:
    /// gone, now) and removes the state of engines that were not; returns
    /// whether the broker did not know this engine (it must tell its
    /// state again, [`Broker::resync`]) and the departures and vacated
    /// channels that made.
    fn refresh(&self, retire: bool) -> BoxFuture<'_, Result<(bool, Vec<Activity>)>>;

    /// Replaces what the broker holds of this engine by `members` and
    /// `counts`; returns the transitions that made.
    fn resync<'a>(
        &'a self,
        members: &'a [(Arc<str>, Member)],
        counts: &'a [(Arc<str>, usize)],
    ) -> BoxFuture<'a, Result<Vec<Activity>>>;

    /// Applies what the broker delivers to `hub`, in the broker's order,
    /// until `cancel`; reconnects by itself.
    fn run(self: Arc<Self>, hub: Hub, cancel: CancellationToken) -> BoxFuture<'static, ()>;
}
