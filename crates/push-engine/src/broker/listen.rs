//! The broker's listening task: one pub/sub connection per engine, which
//! applies what arrives to the hub, catches every mirror up after a gap or
//! a reconnection, and reconnects with back-off.

use std::time::Duration;

use futures_util::StreamExt;
use redis::Value;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::codec::decode;
use super::redis::Redis;
use crate::error::{Error, Result};
use crate::hub::{Applied, Cursor, Hub, Merge, Numbered};
use crate::message::Id;
use crate::metrics::BrokerState;

/// Longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Channels caught up at once after a reconnection.
const CATCH_UP_BATCH: usize = 64;

/// Listens to every channel's publications and applies them to `hub`,
/// until `cancel`. Reconnects with back-off; after each (re)connection
/// every mirror is caught up from the history streams, and subscribers whose
/// continuity cannot be proven get the loss signal.
pub async fn run(hub: Hub, broker: Arc<Redis>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    let mut reported = false;
    loop {
        let outcome = tokio::select! {
            outcome = session(&hub, &broker, &mut first) => outcome,
            _ = cancel.cancelled() => return,
        };
        let metrics = hub.metrics();
        let was_ready = metrics.is_ready();
        metrics.set_ready(false);
        broker.forget_commands().await;
        metrics.set_broker(BrokerState::Disconnected);
        if let Err(e) = outcome {
            let e = match e {
                Error::Broker(reason) => reason,
                e => e.to_string(),
            };
            if was_ready || !reported {
                eprintln!("push: Redis broker {} unavailable ({e}); serving connected clients and retrying", broker.url());
                reported = true;
            }
        }
        if was_ready {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One pub/sub connection, from connecting to its loss.
async fn session(hub: &Hub, broker: &Redis, first: &mut bool) -> Result<()> {
    let fail = |e: redis::RedisError| broker.unavailable(&e);
    let pubsub = tokio::time::timeout(broker.connect_timeout, broker.client.get_async_pubsub())
        .await
        .map_err(|_| {
            Error::Broker(format!(
                "{}: no connection within {:?}",
                broker.url, broker.connect_timeout
            ))
        })?
        .map_err(fail)?;
    let (mut sink, mut stream) = pubsub.split();
    broker.timed(sink.psubscribe(broker.topics())).await?;
    let presence = broker.presence_topic();
    broker.timed(sink.subscribe(&presence)).await?;
    let metrics = hub.metrics();
    metrics.set_broker(BrokerState::Connected);
    if !std::mem::take(first) {
        metrics.broker_reconnected();
        eprintln!(
            "push: Redis broker {} connected again; catching up",
            broker.url
        );
    }
    catch_up_all(hub, broker).await?;
    // Ready means a publication would go through: the command connection
    // too must answer (after a restart of Redis, the old one is closed).
    broker.ping().await?;
    metrics.set_ready(true);
    let mut ping = tokio::time::interval(broker.keepalive);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else {
                    return Err(Error::Broker(format!("{}: connection closed", broker.url)));
                };
                if msg.get_channel_name() == presence {
                    super::presence::receive(hub, broker, msg.get_payload_bytes());
                    continue;
                }
                let Some(channel) = msg.get_channel_name().strip_prefix(&broker.topic("")) else {
                    continue;
                };
                let Some(n) = decode(msg.get_payload_bytes()) else {
                    eprintln!("push: ignored a malformed publication on Redis channel {:?}", msg.get_channel_name());
                    continue;
                };
                receive(hub, broker, channel, n).await?;
            }
            _ = ping.tick() => {
                // A connection that went silent without closing is found out here.
                broker.timed(sink.ping::<Value>()).await?;
            }
        }
    }
}

/// Applies one publication; after a gap, catches the channel up first.
async fn receive(hub: &Hub, broker: &Redis, channel: &str, n: Numbered) -> Result<()> {
    match hub.apply(channel, n.clone()) {
        Ok(Applied::Gap(last)) => {
            catch_up(hub, broker, channel, last).await?;
            let _ = hub.apply(channel, n);
        }
        Ok(_) => {}
        // A name this engine does not accept, or push.max_channels reached:
        // nothing to deliver here.
        Err(_) => {}
    }
    Ok(())
}

async fn catch_up(hub: &Hub, broker: &Redis, channel: &str, last: Id) -> Result<()> {
    let cursor = if last.epoch == 0 {
        Cursor::Live
    } else {
        Cursor::After(last)
    };
    let snap = broker.read(channel, cursor).await?;
    let _ = hub.merge(channel, snap, Merge::CatchUp);
    Ok(())
}

/// Catches every mirror up after a (re)connection.
async fn catch_up_all(hub: &Hub, broker: &Redis) -> Result<()> {
    let mirrored = hub.mirrored();
    for batch in mirrored.chunks(CATCH_UP_BATCH) {
        let all = batch
            .iter()
            .map(|(channel, last)| catch_up(hub, broker, channel, *last));
        for outcome in futures_util::future::join_all(all).await {
            outcome?;
        }
    }
    Ok(())
}
