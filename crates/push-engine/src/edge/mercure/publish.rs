//! `POST /.well-known/mercure`: an update from a publisher.
//!
//! The body is `application/x-www-form-urlencoded`: `topic` (one or more,
//! at most `push.max_channels_per_connection`), `data`, `private` (any
//! value: the update is private), `id` (the publisher's own; not `earliest`,
//! not beginning with `#` or `urn:push:`), `type` (the SSE event), `retry`
//! (milliseconds); a body without a `Content-Type` is read as a form, one
//! of another type is refused (400). The publisher's token must grant every topic
//! (`mercure.publish`, or a 1.0 token's `publish` details; an update
//! published with a 1.0 token has exactly one topic, outside the hub's
//! namespace `/.well-known/mercure`). The answer is `200 text/plain` with the update's id.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::authorization::{authorize, Refused, Role};
use super::update::{Head, ID_PREFIX};
use super::LOG;
use super::{metadata, topic};
use crate::edge::body;
use crate::edge::error::ApiError;
use crate::edge::AppState;
use crate::error::Error;
use crate::hub::{Hub, RESERVED_ENVELOPE};
use crate::message::Outgoing;

pub async fn publish(State(state): State<AppState>, request: Request) -> Result<Response, Refused> {
    let config = state.hub.config();
    let grants = authorize(config, request.headers(), &[], Role::Publisher)?.ok_or_else(|| {
        Refused::missing(
            "a publisher token is required (Authorization: Bearer, or a cookie)",
            request.headers(),
        )
    })?;
    let hub = metadata::hub_url(request.headers());
    // A body without a Content-Type is read as a form too (what HTTP
    // clients that send a string body mean); another type is refused.
    let form = match request.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            }),
    };
    if !form {
        return Err(bad("the body must be application/x-www-form-urlencoded"));
    }
    // Percent-encoding at most triples the data; the rest is the envelope's.
    let max = config.max_message_size.saturating_mul(3) + RESERVED_ENVELOPE;
    let body = body::read(&state, request, max, config.max_message_size).await?;
    let (head, data) = parse(&body)?;
    if data.len() > config.max_message_size {
        return Err(ApiError::TooLarge(config.max_message_size).into());
    }
    if grants.access_token {
        v1_topic(&head.topics, &hub)?;
    }
    if !topic::all(&grants.publish, &head.topics) {
        return Err(Refused::forbidden(
            "the token's mercure.publish does not grant every topic of the update",
        ));
    }
    let id = append(&state.hub, head, data.as_bytes()).await?;
    let mut response = id.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// What draft-08 ("Publication") asks of an update published with a 1.0
/// token: exactly one topic, with no control characters, outside the
/// hub's own namespace (`/.well-known/mercure…` once resolved against the
/// hub's URL `hub`, whatever its scheme and host: 403).
fn v1_topic(topics: &[String], hub: &str) -> Result<(), Refused> {
    let [topic] = topics else {
        return Err(bad("a 1.0 update (at+jwt token) has exactly one topic"));
    };
    if !topic::valid_text(topic) {
        return Err(bad("the topic must not hold control characters"));
    }
    let path = url::Url::parse(hub)
        .and_then(|base| base.join(topic))
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    if path == super::PATH || path.starts_with("/.well-known/mercure/") {
        return Err(Refused::forbidden(
            "the topic is in the hub's reserved namespace /.well-known/mercure",
        ));
    }
    Ok(())
}

fn bad(reason: &str) -> Refused {
    ApiError::BadRequest(reason.to_owned()).into()
}

/// Appends an update to the hub-wide log and returns its Mercure id: the
/// one door every publisher goes through (this hub's `POST`, and PHP's
/// `mercure_publish()` in the engine's process or over the local socket).
/// The caller has checked the publisher's right; this checks the update
/// ([`check`]) and its size.
pub async fn append(hub: &Hub, head: Head, data: &[u8]) -> Result<String, Error> {
    let config = hub.config();
    if !config.mercure {
        return Err(Error::MercureOff);
    }
    check(&head, config.max_channels_per_connection)?;
    if data.len() > config.max_message_size {
        return Err(Error::MessageTooLarge {
            size: data.len(),
            max: config.max_message_size,
        });
    }
    let envelope = head.envelope(data);
    if envelope.len() > config.max_message_size + RESERVED_ENVELOPE {
        return Err(Error::InvalidUpdate(
            "the update's topics and id are too long".into(),
        ));
    }
    // The log keeps push.mercure_history updates, not push.history.
    hub.keep_history(LOG, config.mercure_history, config.mercure_history_ttl)?;
    let p = hub.send_reserved(LOG, Outgoing::new(envelope)).await?;
    super::channels::publish_on_channels(hub, &head, data).await;
    Ok(head.id.unwrap_or_else(|| super::update::push_id(p.id)))
}

/// Whether an update is one the hub takes: one to `max_topics` topics, an
/// id that is not empty, `earliest`, a fragment or one of the hub's own
/// (`urn:push:…`), and an id and type without line breaks.
pub fn check(head: &Head, max_topics: usize) -> Result<(), Error> {
    let bad = |reason: &str| Err(Error::InvalidUpdate(reason.to_owned()));
    if head.topics.is_empty() {
        return bad("missing topic: an update needs at least one topic");
    }
    if head.topics.len() > max_topics {
        return Err(Error::InvalidUpdate(format!(
            "more than {max_topics} topics (push.max_channels_per_connection)"
        )));
    }
    if let Some(id) = &head.id {
        let bad_id = id == "earliest"
            || id.is_empty()
            || id.starts_with('#')
            || id.starts_with(ID_PREFIX)
            || id.contains(['\r', '\n', '\0']);
        if bad_id {
            return bad(
                "id must not be empty or earliest, begin with # or urn:push:, or hold a line break",
            );
        }
    }
    if let Some(kind) = &head.kind {
        if kind.is_empty() || kind.contains(['\r', '\n', '\0']) {
            return bad("type must not be empty or hold a line break");
        }
    }
    Ok(())
}

/// The update a form describes, and its data (not yet [`check`]ed).
fn parse(body: &[u8]) -> Result<(Head, String), Refused> {
    let mut head = Head::default();
    let mut data = String::new();
    for (key, value) in form_urlencoded::parse(body) {
        match &*key {
            "topic" => head.topics.push(value.into_owned()),
            "data" => data = value.into_owned(),
            "private" => head.private = true,
            "id" => head.id = Some(value.into_owned()),
            "type" => head.kind = Some(value.into_owned()),
            "retry" => {
                let retry = Some(&*value)
                    .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| bad("retry must be a whole number of milliseconds"))?;
                head.retry = Some(retry);
            }
            _ => {}
        }
    }
    Ok((head, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8], max_topics: usize) -> Result<(Head, String), String> {
        let (head, data) = super::parse(body).map_err(|e| format!("{e:?}"))?;
        check(&head, max_topics).map_err(|e| e.to_string())?;
        Ok((head, data))
    }

    #[test]
    fn forms() {
        let (head, data) = parse(
            b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=%2Fnews&data=a%0Ab+c&private=on&id=x-1&type=update&retry=500&other=1",
            64,
        )
        .unwrap();
        assert_eq!(head.topics, ["https://example.com/books/1", "/news"]);
        assert_eq!(data, "a\nb c");
        assert!(head.private);
        assert_eq!(head.id.as_deref(), Some("x-1"));
        assert_eq!(head.kind.as_deref(), Some("update"));
        assert_eq!(head.retry, Some(500));
        for bad in [
            &b"data=x"[..],
            b"",
            b"topic=a&retry=soon",
            b"topic=a&retry=-1",
            b"topic=a&retry=%2B5",
            b"topic=a&id=earliest",
            b"topic=a&id=%23frag",
            b"topic=a&id=urn%3Apush%3A1-1",
            b"topic=a&id=a%0Ab",
            b"topic=a&type=a%0Db",
            b"topic=a&type=",
            b"topic=a&topic=b&topic=c",
        ] {
            assert!(parse(bad, 2).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn topics_of_1_0_updates() {
        let hub = "https://hub.example/.well-known/mercure";
        let t = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(v1_topic(&t(&["https://example.com/books/1"]), hub).is_ok());
        assert!(v1_topic(&t(&["/.well-known/mercurex"]), hub).is_ok());
        for (bad, status) in [
            (&["a", "b"][..], 400),
            (&[][..], 400),
            (&["a\u{7}"][..], 400),
            (&["/.well-known/mercure"][..], 403),
            (&["/.well-known/mercure/subscriptions/Exact/a/b"][..], 403),
            (&["https://other.example/.well-known/mercure/x"][..], 403),
            (&["../.well-known/mercure/x"][..], 403),
        ] {
            let r = v1_topic(&t(bad), hub).unwrap_err().into_response();
            assert_eq!(r.status().as_u16(), status, "{bad:?}");
        }
    }
}
