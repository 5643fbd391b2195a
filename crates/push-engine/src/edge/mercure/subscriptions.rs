//! Active subscriptions (`push.mercure_subscriptions = On`), the classic
//! dialect's form: every subscription to a topic selector is announced
//! when it starts and when it ends, as a private update of the topic
//! `/.well-known/mercure/subscriptions/{topic}/{subscriber}` whose data is
//! its JSON-LD document; and `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`
//! lists the active ones (`application/ld+json`), to a subscriber whose
//! token's `mercure.subscribe` grants the path asked for.
//!
//! A subscriber is named by the hub (`urn:push:subscriber:…`), never by
//! the request. The list is this engine's: with several engines on one
//! broker, the events reach every engine (they are updates of the shared
//! log), the list only shows the subscriptions each engine holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::authorization::{authorize, Refused, Role};
use super::subscribe::newest_id;
use super::topic;
use super::update::Head;
use crate::edge::error::ApiError;
use crate::edge::transport::Query as Pairs;
use crate::edge::AppState;
use crate::hub::Hub;

/// The path of the subscriptions API.
pub const SUBSCRIPTIONS: &str = "/.well-known/mercure/subscriptions";

/// The active subscriptions of this engine, by their ids (paths).
#[derive(Debug, Default)]
pub struct Registry {
    active: Mutex<BTreeMap<String, Value>>,
    next: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Value>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A subscriber id of this hub's making.
    fn subscriber(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("urn:push:subscriber:{}-{n}", std::process::id())
    }
}

/// A path segment: the value percent-encoded once, as a whole.
fn segment(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn document(selector: &str, subscriber: &str, active: bool, payload: Option<&Value>) -> Value {
    let mut doc = json!({
        "id": format!("{SUBSCRIPTIONS}/{}/{}", segment(selector), segment(subscriber)),
        "type": "Subscription",
        "topic": selector,
        "subscriber": subscriber,
        "active": active,
    });
    if let Some(payload) = payload {
        doc["payload"] = payload.clone();
    }
    doc
}

/// A stream's subscriptions while it lasts: announced when made, and again
/// (inactive) when dropped.
#[derive(Debug)]
pub struct Announced {
    hub: Hub,
    registry: Arc<Registry>,
    ids: Vec<(String, String)>,
    subscriber: String,
    payload: Option<Value>,
}

impl Announced {
    /// Announces the subscriptions of a stream to `selectors`, if
    /// `push.mercure_subscriptions` is On, with the `payload` its token
    /// gave.
    pub async fn start(
        state: &AppState,
        selectors: &[String],
        payload: Option<Value>,
    ) -> Option<Announced> {
        if !state.hub.config().mercure_subscriptions {
            return None;
        }
        let registry = state.adapters.mercure.clone();
        let subscriber = registry.subscriber();
        let mut ids = Vec::with_capacity(selectors.len());
        for selector in selectors {
            let doc = document(selector, &subscriber, true, payload.as_ref());
            let id = doc["id"].as_str().unwrap_or_default().to_owned();
            registry.lock().insert(id.clone(), doc.clone());
            announce(&state.hub, &id, &doc).await;
            ids.push((id, selector.clone()));
        }
        Some(Announced {
            hub: state.hub.clone(),
            registry,
            ids,
            subscriber,
            payload,
        })
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        let mut ended = Vec::with_capacity(self.ids.len());
        {
            let mut active = self.registry.lock();
            for (id, selector) in self.ids.drain(..) {
                active.remove(&id);
                let doc = document(&selector, &self.subscriber, false, self.payload.as_ref());
                ended.push((id, doc));
            }
        }
        // The stream ends inside the runtime (its body is dropped there).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let hub = self.hub.clone();
            runtime.spawn(async move {
                for (id, doc) in ended {
                    announce(&hub, &id, &doc).await;
                }
            });
        }
    }
}

/// Publishes a subscription event: a private update of its own path. One
/// the hub cannot publish (the broker went away) is dropped: the
/// subscription goes on.
async fn announce(hub: &Hub, id: &str, doc: &Value) {
    let head = Head {
        topics: vec![id.to_owned()],
        private: true,
        ..Head::default()
    };
    let _ = super::publish::append(hub, head, doc.to_string().as_bytes()).await;
}

/// `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`.
pub async fn list(
    State(state): State<AppState>,
    path: Option<Path<Vec<String>>>,
    Query(query): Query<Pairs>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    let config = state.hub.config();
    if !config.mercure_subscriptions {
        return Err(ApiError::NotFound.into());
    }
    let parts: Vec<String> = path.map(|Path(p)| p).unwrap_or_default();
    let id = std::iter::once(SUBSCRIPTIONS.to_owned())
        .chain(parts.iter().map(|p| segment(p)))
        .collect::<Vec<_>>()
        .join("/");
    let grants = authorize(config, &headers, &query, Role::Subscriber)?.ok_or_else(|| {
        Refused::unauthorized("a subscriber token granting this path is required")
    })?;
    if !topic::any(&grants.subscribe, std::slice::from_ref(&id)) {
        return Err(Refused::forbidden(
            "the token's mercure.subscribe does not grant this path",
        ));
    }
    let last = newest_id(&state.hub);
    let active = state.adapters.mercure.lock();
    let mut body = match parts.len() {
        2 => match active.get(&id) {
            Some(doc) => doc.clone(),
            None => return Err(ApiError::NotFound.into()),
        },
        _ => {
            let prefix = format!("{id}/");
            let subscriptions: Vec<Value> = active
                .iter()
                .filter(|(k, _)| parts.is_empty() || k.starts_with(&prefix))
                .map(|(_, v)| v.clone())
                .collect();
            json!({"id": id, "type": "Subscriptions", "subscriptions": subscriptions})
        }
    };
    drop(active);
    body["@context"] = json!("https://mercure.rocks/");
    body["lastEventID"] = json!(last);
    let mut response = body.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ld+json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_name_their_subscription() {
        let doc = document(
            "https://example.com/books/{id}",
            "urn:push:subscriber:1-2",
            true,
            None,
        );
        assert_eq!(
            doc["id"],
            "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D/urn%3Apush%3Asubscriber%3A1-2"
        );
        assert_eq!(doc["topic"], "https://example.com/books/{id}");
        assert_eq!(doc["active"], true);
        assert_eq!(segment("a b%"), "a%20b%25");
        assert!(doc.get("payload").is_none());
        let payload = json!({"name": "Ann"});
        let doc = document("a", "s", false, Some(&payload));
        assert_eq!((&doc["payload"], &doc["active"]), (&payload, &json!(false)));
    }
}
