//! The browser transports — WebSocket, SSE, long-poll — as thin adapters
//! over the hub. Each parses what the request asks for ([`Wanted::parse`]),
//! subscribes, and writes a [`feed::Feed`] in its own framing. The
//! connections they are served on are the edge's ([`crate::edge::listen`]).

pub(crate) mod coalesce;
pub mod cursor;
pub(crate) mod deflate;
pub(crate) mod events;
pub mod feed;
pub(crate) mod gate;
pub(crate) mod inflate;
pub mod poll;
pub mod sse;
pub(crate) mod tap;
pub(crate) mod wire;
pub mod ws;

use std::time::Duration;

use axum::http::HeaderMap;

use crate::auth::{self, Access};
use crate::config::Config;
use crate::edge::error::ApiError;
use crate::hub::{Cursor, Hub, Subscription};
use crate::message::validate_channel;
use cursor::CursorSpec;
use feed::Feed;

/// The query string of a subscribing request, as pairs (keys may repeat).
pub type Query = Vec<(String, String)>;

pub(crate) fn param<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What a subscribing request asks for.
#[derive(Debug)]
pub struct Wanted {
    pub channels: Vec<(String, Cursor)>,
    /// JSON envelopes (WebSocket) instead of raw frames.
    pub json: bool,
    /// What the request's token allows, if a private channel needed one.
    pub access: Access,
}

impl Wanted {
    /// Channels from the path and `?channel=`; the cursor from
    /// `?lastEventId=` or the `Last-Event-ID` header; the token that
    /// private channels need (see [`crate::auth`]).
    pub fn parse(
        path_channel: Option<&str>,
        query: &Query,
        headers: &HeaderMap,
        config: &Config,
    ) -> Result<Wanted, ApiError> {
        let mut names: Vec<String> = Vec::new();
        let from_query = query
            .iter()
            .filter(|(k, _)| k == "channel")
            .map(|(_, v)| v.as_str());
        for name in path_channel.into_iter().chain(from_query) {
            let name = validate_channel(name.as_bytes())?;
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() {
            return Err(ApiError::BadRequest(
                "name a channel: /…/{channel} or ?channel=".into(),
            ));
        }
        if names.len() > config.max_channels_per_connection {
            return Err(ApiError::BadRequest(format!(
                "{} channels asked, push.max_channels_per_connection is {}",
                names.len(),
                config.max_channels_per_connection
            )));
        }
        let access = auth::subscribe(config, names.iter().map(String::as_str), query, headers)?;
        // A header that is not visible ASCII is a bad cursor, not none.
        let header = match headers.get("last-event-id") {
            Some(v) => Some(v.to_str().map_err(|_| {
                crate::error::Error::InvalidId(
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(64)
                        .collect(),
                )
            })?),
            None => None,
        };
        let cursor = match param(query, "lastEventId")
            .or(header)
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(CursorSpec::parse(s)?),
            None => None,
        };
        let count = names.len();
        let channels = names
            .into_iter()
            .map(|name| {
                let start = match &cursor {
                    Some(c) => c.start(&name, count)?,
                    None => Cursor::Live,
                };
                Ok((name, start))
            })
            .collect::<Result<Vec<_>, crate::error::Error>>()?;
        let json = match param(query, "format") {
            Some("json") => true,
            Some("raw") => false,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "format must be json or raw, not {other:?}"
                )))
            }
            None => count > 1,
        };
        Ok(Wanted {
            channels,
            json,
            access,
        })
    }

    /// Subscribes to every channel and opens the feed.
    pub async fn open(&self, hub: &Hub) -> Result<Feed, ApiError> {
        let mut subs: Vec<Subscription> = Vec::with_capacity(self.channels.len());
        for (name, start) in &self.channels {
            subs.push(hub.join(name, *start).await?);
        }
        let config = hub.config();
        Ok(Feed::open(
            subs,
            config.max_queue_bytes,
            patience(config),
            hub.metrics().clone(),
        ))
    }
}

/// How long a connection may leave its queue full before it is slow.
pub fn patience(config: &Config) -> Duration {
    config.keepalive
}
