//! push's channels and Mercure's topics as one namespace
//! (`push.mercure_channels = On`):
//!
//! - a publication on channel `C` through push's doors (`push_send()`,
//!   `POST /publish`, a WebSocket or Pusher client) is also a Mercure
//!   update of the topic `C` — its event name the update's type, its data
//!   the update's data, private when the channel is private
//!   ([`crate::auth::is_private`]), its id the hub's (`urn:push:…`); binary
//!   publications (no UTF-8 text) are not copied;
//! - a public Mercure update (`POST`, `mercure_publish()`) is also
//!   published on each of its topics that is a channel name (neither
//!   reserved nor private), with its type as the event name, so
//!   `push_get_message('C')` and push's own transports get it.
//!
//! The two copies have ids of their own: a Mercure subscriber resumes with
//! Mercure ids, a push subscriber with push ids. The hub does the copying
//! of push's publications (its neutral [`crate::hub::copy`]); this module
//! only makes the copies.

use std::sync::Arc;

use bytes::Bytes;

use super::update::Head;
use super::LOG;
use crate::auth;
use crate::config::Config;
use crate::hub::copy::Copy;
use crate::hub::Hub;
use crate::message::{is_reserved, validate_channel, validate_event, Outgoing};

/// Has the hub copy push's publications into the Mercure log, if
/// `push.mercure` and `push.mercure_channels` are On.
pub fn install(hub: &Hub) {
    let config = hub.config();
    if config.mercure && config.mercure_channels {
        hub.copy_with(Arc::new(update_of));
    }
}

/// The Mercure update a publication on `channel` is.
fn update_of(config: &Config, channel: &str, msg: &Outgoing) -> Option<Copy> {
    if msg.binary || std::str::from_utf8(&msg.data).is_err() {
        return None;
    }
    let head = Head {
        topics: vec![channel.to_owned()],
        private: auth::is_private(config, channel),
        kind: msg.event.clone(),
        ..Head::default()
    };
    Some(Copy {
        channel: LOG,
        msg: Outgoing::new(head.envelope(&msg.data)),
        history: (config.mercure_history, config.mercure_history_ttl),
    })
}

/// Publishes a public update on each of its topics that is a public
/// channel's name (with `push.mercure_channels`). A publication refused
/// there (the broker went away meanwhile) is dropped: the update stands.
pub async fn publish_on_channels(hub: &Hub, head: &Head, data: &[u8]) {
    let config = hub.config();
    if !config.mercure_channels || head.private {
        return;
    }
    let data = Bytes::copy_from_slice(data);
    for topic in &head.topics {
        let open = validate_channel(topic.as_bytes()).is_ok()
            && !is_reserved(topic)
            && !auth::is_private(config, topic);
        if !open {
            continue;
        }
        let mut msg = Outgoing::new(data.clone());
        if let Some(kind) = head.kind.as_deref().filter(|k| validate_event(k).is_ok()) {
            msg = msg.event(kind);
        }
        // The reserved door: a copy is not copied back into the log.
        let _ = hub.send_reserved(topic, msg).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publications_become_updates_of_their_channel() {
        let mut config = Config::default();
        config.set("private_channels", "private-*").unwrap();
        config.mercure_history = 7;
        let copy = update_of(&config, "news", &Outgoing::new("hello").event("note")).unwrap();
        assert_eq!(copy.channel, LOG);
        assert_eq!(copy.history.0, 7);
        assert_eq!(
            &copy.msg.data[..],
            b"{\"topics\":[\"news\"],\"type\":\"note\"}\nhello"
        );
        let private = update_of(&config, "private-7", &Outgoing::new("x")).unwrap();
        assert!(private
            .msg
            .data
            .starts_with(b"{\"topics\":[\"private-7\"],\"private\":true}"));
        assert!(update_of(&config, "news", &Outgoing::new("x").binary()).is_none());
        assert!(update_of(&config, "news", &Outgoing::new(vec![0xff])).is_none());
    }
}
