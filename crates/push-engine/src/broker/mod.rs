//! Where publications are ordered and history is kept.
//!
//! The default is this process's memory: the [`crate::hub::Hub`] numbers
//! publications itself. With `push.broker = redis://…` several engines
//! share every channel through Redis ([`Redis`]): a publication is appended
//! to the channel's history stream and published in one Lua script
//! (`publish.lua`), every engine receives it in the same order and applies
//! it to its hub, which then mirrors the broker (see `hub::mirror`).

pub mod codec;
mod listen;
mod presence;
pub mod redis;
mod watched;

pub use self::redis::Redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::hub::presence::Member;
use crate::hub::{Activity, Broker, Counts, Cursor, Hub, Snapshot};
use crate::message::{Id, Outgoing};

impl Broker for Redis {
    fn url(&self) -> &str {
        Redis::url(self)
    }

    fn publish<'a>(&'a self, channel: &'a str, msg: &'a Outgoing) -> BoxFuture<'a, Result<Id>> {
        Box::pin(Redis::publish(self, channel, msg))
    }

    fn read<'a>(&'a self, channel: &'a str, cursor: Cursor) -> BoxFuture<'a, Result<Snapshot>> {
        Box::pin(Redis::read(self, channel, cursor))
    }

    fn touch<'a>(&'a self, channels: &'a [Arc<str>]) -> BoxFuture<'a, Result<()>> {
        Box::pin(Redis::touch(self, channels))
    }

    fn touch_interval(&self) -> Duration {
        Redis::touch_interval(self)
    }

    fn presence_join<'a>(
        &'a self,
        channel: &'a str,
        member: &'a Member,
    ) -> BoxFuture<'a, Result<(bool, Vec<Member>)>> {
        Box::pin(Redis::presence_join(self, channel, member))
    }

    fn presence_leave<'a>(&'a self, channel: &'a str, id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(Redis::presence_leave(self, channel, id))
    }

    fn presence_members<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Vec<Member>>> {
        Box::pin(Redis::presence_members(self, channel))
    }

    fn occupancy<'a>(
        &'a self,
        counts: &'a [(Arc<str>, usize)],
    ) -> BoxFuture<'a, Result<Vec<Activity>>> {
        Box::pin(Redis::occupancy(self, counts))
    }

    fn occupied<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Counts>> {
        Box::pin(Redis::occupied(self, prefix))
    }

    fn refresh(&self, retire: bool) -> BoxFuture<'_, Result<(bool, Vec<Activity>)>> {
        Box::pin(Redis::refresh(self, retire))
    }

    fn resync<'a>(
        &'a self,
        members: &'a [(Arc<str>, Member)],
        counts: &'a [(Arc<str>, usize)],
    ) -> BoxFuture<'a, Result<Vec<Activity>>> {
        Box::pin(Redis::resync(self, members, counts))
    }

    fn run(self: Arc<Self>, hub: Hub, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(listen::run(hub, self, cancel))
    }
}
