//! Subscribing a Pusher connection: `pusher:subscribe` (names, limits,
//! auth through [`super::channels`]), `subscription_succeeded` with the
//! members of a presence channel, a cache channel's last event
//! ([`super::cache`]), and `pusher:unsubscribe`.

use serde_json::json;

use super::cache::{is_cache, last_event};
use super::channels::{authorize, valid_name, Kind};
use super::frame::{self, Incoming};
use super::session::Session;
use super::user::user_of;
use crate::edge::transport::feed::Feed;
use crate::hub::presence::Member;
use crate::hub::Cursor;

impl Session {
    pub(super) async fn subscribe(&mut self, incoming: &Incoming, feed: &mut Feed) {
        let Some(channel) = incoming.text("channel") else {
            self.send(&frame::error(None, "pusher:subscribe needs data.channel"));
            return;
        };
        if let Some(id) = user_of(&channel) {
            let id = id.to_owned();
            self.subscribe_user(&channel, &id);
            return;
        }
        if !valid_name(&channel) {
            let e = frame::subscription_error(
                &channel,
                "InvalidChannel",
                "a channel name is 1 to 200 characters of A-Z a-z 0-9 - _ = @ , . ;",
                400,
            );
            self.send(&e);
            return;
        }
        let hub = self.hub.clone();
        let config = hub.config();
        if let Some(Kind::Presence(_)) = self.channels.get(channel.as_str()) {
            // Already on it: say so again, with who is there.
            let members = match self.hub.presence_members(&channel).await {
                Ok(members) => members,
                Err(_) => self.hub.presence().members(&channel),
            };
            self.succeeded(&channel, Some(&members));
            return;
        }
        if self.channels.contains_key(channel.as_str()) {
            self.succeeded(&channel, None);
            return;
        }
        if self.channels.len() >= config.max_channels_per_connection {
            let e = frame::subscription_error(
                &channel,
                "LimitReached",
                &format!(
                    "a connection may subscribe to {} channels (push.max_channels_per_connection)",
                    config.max_channels_per_connection
                ),
                400,
            );
            self.send(&e);
            return;
        }
        let auth = incoming.text("auth");
        let channel_data = incoming.text("channel_data");
        let kind = match authorize(
            config,
            &self.socket_id,
            &channel,
            auth.as_deref(),
            channel_data.as_deref(),
        ) {
            Ok(kind) => kind,
            Err((kind, error, status)) => {
                self.send(&frame::subscription_error(&channel, kind, &error, status));
                return;
            }
        };
        // Subscribed before saying so: nothing published after the
        // answer is missed.
        let sub = match Box::pin(self.hub.join(&channel, Cursor::Live)).await {
            Ok(sub) => sub,
            Err(e) => {
                let e = frame::subscription_error(&channel, "Unavailable", &e.to_string(), 503);
                self.send(&e);
                return;
            }
        };
        let name = sub.channel().clone();
        let head = sub.position();
        feed.add(sub);
        if let Some(tap) = &self.tap {
            // Registered only while this is the feed's one channel.
            feed.tap(tap.clone());
        }
        let members = match &kind {
            Kind::Presence(member) => Some(
                self.hub
                    .presence_join(&name, self.number, member.clone(), self.notices.0.clone())
                    .await,
            ),
            _ => None,
        };
        self.channels.insert(name.clone(), kind);
        self.succeeded(&channel, members.as_deref());
        if is_cache(&name) {
            // Whatever is published from `head` on comes through the feed.
            match last_event(&self.hub, &name, head).await {
                Some(p) => self.deliver(&p),
                None => {
                    self.send(&frame::event("pusher:cache_miss", Some(&name), &json!({})));
                    if let Some(hooks) = &self.webhooks {
                        hooks.cache_miss(&name);
                    }
                }
            }
        }
    }

    /// `pusher_internal:subscription_succeeded`, with the members of a
    /// presence channel.
    pub(super) fn succeeded(&mut self, channel: &str, members: Option<&[Member]>) {
        self.send(&frame::subscription_succeeded(channel, members));
    }

    pub(super) async fn unsubscribe(&mut self, channel: &str, feed: &mut Feed) {
        if let Some(kind) = self.channels.remove(channel) {
            feed.remove(channel);
            if matches!(kind, Kind::Presence(_)) {
                self.hub.presence_leave(channel, self.number).await;
            }
        }
    }
}
