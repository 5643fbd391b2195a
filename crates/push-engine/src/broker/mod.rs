//! Where publications are ordered and history is kept.
//!
//! The default is this process's memory: the [`crate::hub::Hub`] numbers
//! publications itself. With `push.broker = redis://…` several engines
//! share every channel through Redis ([`Redis`]): a publication is appended
//! to the channel's history stream and published in one Lua script
//! (`publish.lua`), every engine receives it in the same order and applies
//! it to its hub, which then mirrors the broker (see `hub::mirror`).

pub mod redis;
mod watched;

pub use self::redis::Redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::hub::{Broker, Cursor, Hub, Snapshot};
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

    fn run(self: Arc<Self>, hub: Hub, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(redis::run(hub, self, cancel))
    }
}
