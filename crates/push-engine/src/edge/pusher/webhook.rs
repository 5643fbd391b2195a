//! Pusher webhooks (`push.pusher_webhook_url`): `channel_occupied`,
//! `channel_vacated`, `member_added`, `member_removed`, `client_event` and
//! `cache_miss`, POSTed as Pusher posts them:
//!
//! ```text
//! POST <push.pusher_webhook_url>
//! Content-Type: application/json
//! X-Pusher-Key: <push.pusher_key>
//! X-Pusher-Signature: hex(HMAC-SHA256(push.pusher_secret, body))
//!
//! {"time_ms": 1700000000000, "events": [{"name": "channel_occupied", "channel": "orders"}, …]}
//! ```
//!
//! Once per cluster: occupancy and presence events come from the hub's
//! [`crate::hub::Activity`], which exactly one engine observes for each
//! transition; a client event or a cache miss is sent by the engine its
//! connection is on.
//!
//! Events wait in a queue of `push.pusher_webhook_queue` (more are dropped
//! and counted); whatever is waiting when a request goes out goes in it
//! (at most [`MAX_BATCH`]). A request that fails (no answer within
//! `push.pusher_webhook_timeout`, not 2xx) is tried again up to
//! `push.pusher_webhook_retries` times, after [`FIRST_BACKOFF`], doubling
//! up to [`MAX_BACKOFF`]; then its events are dropped. Each outcome is
//! counted in `/metrics` (`push_webhooks_total`).
//!
//! The client is hyper's own HTTP/1.1 connection over a new TCP connection
//! per request: plain `http://` only (put a proxy in front for HTTPS).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, Uri};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::auth::signature::sign_hex;
use crate::hub::{Activity, Hub};
use crate::metrics::{Metrics, Webhook};

/// Most events in one request.
pub const MAX_BATCH: usize = 100;
/// Pause before the first retry.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest pause between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where webhook events are handed in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Webhooks {
    tx: mpsc::Sender<Value>,
    metrics: Arc<Metrics>,
}

impl Webhooks {
    /// Starts sending `hub`'s webhooks until `cancel`, if
    /// `push.pusher_webhook_url` is set and the Pusher protocol is on.
    pub fn start(hub: &Hub, cancel: CancellationToken) -> Option<Webhooks> {
        let config = hub.config();
        if config.pusher_webhook_url.is_empty() || !config.pusher() {
            return None;
        }
        let (tx, rx) = mpsc::channel(config.pusher_webhook_queue);
        let hooks = Webhooks {
            tx,
            metrics: hub.metrics().clone(),
        };
        let sender = Sender {
            url: config.pusher_webhook_url.clone(),
            key: config.pusher_key.clone(),
            secret: config.pusher_secret.expose().to_vec(),
            timeout: config.pusher_webhook_timeout,
            retries: config.pusher_webhook_retries,
            metrics: hub.metrics().clone(),
        };
        tokio::spawn(sender.run(rx, cancel.clone()));
        tokio::spawn(hooks.clone().watch(hub.activity(), cancel));
        Some(hooks)
    }

    fn push(&self, event: Value) {
        if self.tx.try_send(event).is_err() {
            self.metrics.webhook(Webhook::Dropped, 1);
        }
    }

    /// A client event (`client-…`) a connection sent on `channel`;
    /// `user_id` on a presence channel.
    pub fn client_event(
        &self,
        channel: &str,
        event: &str,
        data: &str,
        socket_id: &str,
        user_id: Option<&str>,
    ) {
        let mut e = json!({
            "name": "client_event",
            "channel": channel,
            "event": event,
            "data": data,
            "socket_id": socket_id,
        });
        if let Some(user) = user_id {
            e["user_id"] = user.into();
        }
        self.push(e);
    }

    /// A subscriber of cache channel `channel` found nothing to replay.
    pub fn cache_miss(&self, channel: &str) {
        self.push(json!({ "name": "cache_miss", "channel": channel }));
    }

    /// Turns the hub's transitions into events.
    async fn watch(self, mut rx: broadcast::Receiver<Activity>, cancel: CancellationToken) {
        loop {
            let activity = tokio::select! {
                _ = cancel.cancelled() => return,
                a = rx.recv() => a,
            };
            match activity {
                Ok(a) => {
                    if let Some(e) = event(&a) {
                        self.push(e);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.metrics.webhook(Webhook::Dropped, n);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// A transition as a webhook event (presence events on presence channels
/// only).
pub fn event(a: &Activity) -> Option<Value> {
    Some(match a {
        Activity::Occupied(c) => json!({ "name": "channel_occupied", "channel": &**c }),
        Activity::Vacated(c) => json!({ "name": "channel_vacated", "channel": &**c }),
        Activity::Joined(c, m) if c.starts_with("presence-") => {
            json!({ "name": "member_added", "channel": &**c, "user_id": m.id })
        }
        Activity::Left(c, id) if c.starts_with("presence-") => {
            json!({ "name": "member_removed", "channel": &**c, "user_id": id })
        }
        _ => return None,
    })
}

/// The body of one request: `{"time_ms": …, "events": […]}`.
pub fn body(events: &[Value]) -> Vec<u8> {
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({ "time_ms": time_ms, "events": events })
        .to_string()
        .into_bytes()
}

struct Sender {
    url: String,
    key: String,
    secret: Vec<u8>,
    timeout: Duration,
    retries: usize,
    metrics: Arc<Metrics>,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Value>, cancel: CancellationToken) {
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => return,
                e = rx.recv() => e,
            };
            let Some(first) = first else { return };
            let mut events = vec![first];
            while events.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => events.push(e),
                    Err(_) => break,
                }
            }
            let body = body(&events);
            let mut backoff = FIRST_BACKOFF;
            let mut attempt = 0;
            loop {
                let sent = tokio::select! {
                    _ = cancel.cancelled() => return,
                    sent = tokio::time::timeout(self.timeout, self.post(&body)) => {
                        matches!(sent, Ok(Ok(true)))
                    }
                };
                if sent {
                    self.metrics.webhook(Webhook::Sent, 1);
                    break;
                }
                self.metrics.webhook(Webhook::Failed, 1);
                if attempt >= self.retries {
                    self.metrics.webhook(Webhook::Dropped, events.len() as u64);
                    break;
                }
                attempt += 1;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// One POST; whether it was answered 2xx.
    async fn post(&self, body: &[u8]) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
        let uri: Uri = self.url.parse()?;
        let host = uri.host().ok_or("no host")?;
        let port = uri.port_u16().unwrap_or(80);
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        let conn = tokio::spawn(conn);
        let authority = uri.authority().map_or(host, |a| a.as_str());
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = Request::post(path)
            .header(header::HOST, authority)
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-Pusher-Key", &self.key)
            .header("X-Pusher-Signature", sign_hex(&self.secret, body))
            .body(Body::from(body.to_vec()))?;
        let response = send.send_request(request).await?;
        let ok = response.status().is_success();
        drop(response);
        drop(send);
        conn.abort();
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::presence::Member;

    #[test]
    fn transitions_become_pusher_events() {
        let joined = Activity::Joined(
            "presence-r".into(),
            Member {
                id: "7".into(),
                info: None,
            },
        );
        assert_eq!(
            event(&joined),
            Some(json!({"name": "member_added", "channel": "presence-r", "user_id": "7"}))
        );
        assert_eq!(
            event(&Activity::Vacated("orders".into())),
            Some(json!({"name": "channel_vacated", "channel": "orders"}))
        );
        let elsewhere = Activity::Left("private-x".into(), "7".into());
        assert_eq!(event(&elsewhere), None);
        let b: Value = serde_json::from_slice(&body(&[json!({"name": "x"})])).unwrap();
        assert!(b["time_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(b["events"][0]["name"], "x");
    }
}
