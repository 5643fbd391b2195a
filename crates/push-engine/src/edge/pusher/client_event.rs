//! Client events (`client-…`, Echo's `whisper`) from a Pusher connection.

use serde_json::Value;

use super::channels::Kind;
use super::frame::{self, Incoming};
use super::session::{End, Session};
use super::CLOSE_CLIENT_RATE;
use crate::message::{Origin, Outgoing};
use crate::metrics::Limit;

impl Session {
    /// A client event (`client-…`): only on a private or presence channel
    /// this connection is on, never back to it, with the sender's
    /// `user_id` on a presence channel, at most `push.client_publish_rate`
    /// a second (more: close 4301).
    pub(super) async fn client_event(&mut self, incoming: Incoming) -> Result<(), End> {
        let Some(channel) = incoming.channel.as_deref() else {
            self.send(&frame::error(None, "a client event needs a channel"));
            return Ok(());
        };
        let user = match self.channels.get(channel) {
            None => {
                self.send(&frame::error(
                    None,
                    &format!("client event on channel {channel}, which this connection is not subscribed to"),
                ));
                return Ok(());
            }
            Some(Kind::Public) => {
                self.send(&frame::error(
                    None,
                    "client events are allowed on private and presence channels only",
                ));
                return Ok(());
            }
            Some(Kind::Private) if super::channels::is_encrypted(channel) => {
                self.send(&frame::error(
                    None,
                    "client events are not allowed on encrypted channels",
                ));
                return Ok(());
            }
            Some(Kind::Private) => None,
            Some(Kind::Presence(member)) => Some(member.id.clone()),
        };
        if !self.rate.take() {
            self.hub.metrics().refused(Limit::ClientPublishRate);
            return Err(End::Close(
                CLOSE_CLIENT_RATE,
                "client events too fast: see push.client_publish_rate".into(),
            ));
        }
        let data = match incoming.data {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let msg = Outgoing::new(data.clone())
            .event(incoming.event.clone())
            .origin(Origin {
                connection: self.socket_id.clone(),
                user: user.clone(),
            });
        match Box::pin(self.hub.send(channel, msg)).await {
            Ok(_) => {
                if let Some(hooks) = &self.webhooks {
                    let user = user.as_deref();
                    hooks.client_event(channel, &incoming.event, &data, &self.socket_id, user);
                }
            }
            Err(e @ crate::Error::MessageTooLarge { .. })
            | Err(e @ crate::Error::InvalidEvent(_)) => {
                self.send(&frame::error(None, &e.to_string()));
            }
            Err(_) => self.send(&frame::error(
                None,
                "the client event could not be published",
            )),
        }
        Ok(())
    }
}
