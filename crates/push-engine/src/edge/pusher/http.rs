//! The Pusher HTTP API, `/apps/{app_id}/…`, signed as Pusher's server
//! libraries sign (one controller per route, as reverb's
//! `Http/Controllers/`):
//!
//! - `POST events`: `{name, data, channel | channels (≤ 100), socket_id?,
//!   info?}`; `socket_id`'s connection does not receive it;
//! - `POST batch_events`: `{batch: [{name, data, channel, socket_id?,
//!   info?}]}`, at most 10;
//! - `GET channels` (`filter_by_prefix`, `info=user_count` for presence
//!   channels), `GET channels/{channel}` (`info=user_count,
//!   subscription_count`), `GET channels/{channel}/users` (presence);
//! - `POST users/{user_id}/terminate_connections`: closes the user's
//!   connections on every engine (also at `/users/{user_id}/…`, without
//!   the prefix, where PyPI's `pusher` 3.3.4 sends it);
//! - an event to `#server-to-user-{id}` reaches the connections signed in
//!   as that user (on every engine: see [`super::user`]).
//!
//! Signature: the query holds `auth_key`, `auth_timestamp` (within 600 s
//! of now), `auth_version` (`1.0`), `body_md5` (hex MD5 of a POST's body)
//! and `auth_signature` = hex HMAC-SHA256 under the secret of
//! `METHOD\nPATH\nQUERY`, where QUERY is every other parameter, keys in
//! lower case, sorted, written `key=value` (not URL-encoded) and joined
//! with `&`. Refusals answer 400, 401, 403, 404 or 413 with a JSON
//! `{"error": …}`; never 500.
//!
//! Counts are the cluster's: with a shared broker, every engine's members
//! and subscribers (an engine reports a channel's subscribers a moment
//! after its first arrives or its last leaves).

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::Method;
use axum::Json;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::channels::{valid_name, valid_socket_id};
use super::user::{hub_channel, user_of, valid_user_id, TERMINATE};
use crate::auth::signature::verify_hex;
use crate::auth::token::now;
use crate::edge::error::ApiError;
use crate::edge::transport::Query as Pairs;
use crate::edge::AppState;
use crate::message::{is_reserved, validate_event, Origin, Outgoing};

/// Most channels one event is published to.
pub const MAX_CHANNELS: usize = 100;
/// Most events of one batch.
pub const MAX_BATCH: usize = 10;
/// How far `auth_timestamp` may be from now, in seconds.
pub const MAX_SKEW: f64 = 600.0;

/// Checks the signature of a request to `path` with `query` and `body`.
fn check(
    state: &AppState,
    method: &Method,
    path: &str,
    app_id: &str,
    query: &Pairs,
    body: &[u8],
) -> Result<(), ApiError> {
    let config = state.hub.config();
    if app_id != config.pusher_app_id {
        return Err(ApiError::NotFound);
    }
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let refuse = |why: &str| ApiError::Token(why.to_owned());
    let key = get("auth_key").ok_or_else(|| refuse("auth_key is missing"))?;
    if key != config.pusher_key {
        return Err(refuse("unknown auth_key"));
    }
    let at = get("auth_timestamp")
        .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| refuse("auth_timestamp is missing or not a number of seconds"))?;
    if (now() - at as f64).abs() > MAX_SKEW {
        return Err(refuse(
            "auth_timestamp is more than 600 s from the server's time",
        ));
    }
    if get("auth_version").is_some_and(|v| v != "1.0") {
        return Err(refuse("auth_version must be 1.0"));
    }
    if !body.is_empty() || get("body_md5").is_some() {
        let md5 = hex(&Md5::digest(body));
        if get("body_md5") != Some(md5.as_str()) {
            return Err(refuse("body_md5 does not match the body"));
        }
    }
    let signature = get("auth_signature").ok_or_else(|| refuse("auth_signature is missing"))?;
    let mut pairs: Vec<(String, &str)> = query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("auth_signature"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .collect();
    pairs.sort();
    let sorted: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let signed = |path: &str| {
        let message = format!("{method}\n{path}\n{}", sorted.join("&"));
        verify_hex(config.pusher_secret.expose(), message.as_bytes(), signature)
    };
    // The path as sent, or decoded: a library signs the path it was given,
    // and its HTTP client may percent-encode `, ; = @` on the way.
    let decoded = percent_decoded(path);
    if signed(path) || decoded.as_deref().is_some_and(|d| d != path && signed(d)) {
        Ok(())
    } else {
        Err(refuse("invalid auth_signature"))
    }
}

/// `path` with its `%XX` escapes decoded, if it has any and they decode to
/// UTF-8.
fn percent_decoded(path: &str) -> Option<String> {
    if !path.contains('%') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a request's body, at most `max` bytes within
/// `push.request_timeout`.
async fn body(state: &AppState, request: Request, max: usize) -> Result<Bytes, ApiError> {
    crate::edge::body::read(state, request, max, max).await
}

/// One event to publish.
#[derive(Debug, Deserialize)]
struct Event {
    name: String,
    data: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    socket_id: Option<String>,
    #[serde(default)]
    info: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    batch: Vec<Event>,
}

fn bad(why: impl Into<String>) -> ApiError {
    ApiError::BadRequest(why.into())
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// Checks an event and says which channels it goes to.
fn channels_of(state: &AppState, e: &Event) -> Result<Vec<String>, ApiError> {
    let list: Vec<String> = match (&e.channel, &e.channels) {
        (Some(c), None) => vec![c.clone()],
        (None, Some(list)) => list.clone(),
        _ => return Err(bad("give channel or channels, one of them")),
    };
    if list.is_empty() || list.len() > MAX_CHANNELS {
        return Err(bad(format!(
            "an event goes to 1 to {MAX_CHANNELS} channels"
        )));
    }
    let valid = |c: &str| valid_name(c) || user_of(c).is_some_and(valid_user_id);
    if let Some(c) = list.iter().find(|c| !valid(c)) {
        return Err(bad(format!(
            "invalid channel name {c:?}: 1 to 200 characters of A-Z a-z 0-9 - _ = @ , . ; \
             (or #server-to-user- and a user id of them)"
        )));
    }
    validate_event(&e.name).map_err(|err| bad(err.to_string()))?;
    if e.name.starts_with("pusher:") || e.name.starts_with("pusher_internal:") {
        return Err(bad(
            "event names starting with pusher: are the protocol's own",
        ));
    }
    let max = state.hub.config().max_message_size;
    if e.data.len() > max {
        return Err(ApiError::TooLarge(max));
    }
    if let Some(id) = &e.socket_id {
        if !valid_socket_id(id) {
            return Err(bad(format!("invalid socket_id {id:?}")));
        }
    }
    Ok(list)
}

/// `info` asked for: `user_count`, `subscription_count`.
fn infos(info: Option<&str>) -> (bool, bool) {
    let asked = |what: &str| info.is_some_and(|i| i.split(',').any(|x| x.trim() == what));
    (asked("user_count"), asked("subscription_count"))
}

/// The broker could not be asked.
fn unavailable(e: crate::Error) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

/// How many members presence `channel` has, cluster-wide.
async fn user_count(state: &AppState, channel: &str) -> Result<usize, ApiError> {
    let members = state.hub.presence_members(channel).await;
    Ok(members.map_err(unavailable)?.len())
}

/// The attributes of a channel that `info` asks for.
async fn attributes(
    state: &AppState,
    channel: &str,
    info: Option<&str>,
) -> Result<Value, ApiError> {
    let (users, subscriptions) = infos(info);
    let mut out = Map::new();
    if users {
        if !channel.starts_with("presence-") {
            return Err(bad("user_count is for presence channels only"));
        }
        out.insert(
            "user_count".into(),
            user_count(state, channel).await?.into(),
        );
    }
    if subscriptions {
        let n = state.hub.subscribers_everywhere(channel).await;
        out.insert("subscription_count".into(), n.map_err(unavailable)?.into());
    }
    Ok(Value::Object(out))
}

async fn publish(state: &AppState, e: Event) -> Result<Option<Value>, ApiError> {
    let channels = channels_of(state, &e)?;
    for channel in &channels {
        let mut msg = Outgoing::new(e.data.clone()).event(e.name.clone());
        if let Some(id) = &e.socket_id {
            msg = msg.origin(Origin {
                connection: id.clone(),
                user: None,
            });
        }
        match user_of(channel) {
            Some(id) => to_user(state, id, msg).await?,
            None => {
                state.hub.send(channel, msg).await?;
            }
        }
    }
    match e.info.as_deref() {
        None => Ok(None),
        Some(info) => {
            let mut all = Map::new();
            for channel in &channels {
                let attrs = attributes(state, channel, Some(info)).await?;
                all.insert(channel.clone(), attrs);
            }
            Ok(Some(Value::Object(all)))
        }
    }
}

/// `POST /apps/{app_id}/events`.
pub async fn events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let path = request.uri().path().to_owned();
    let max = state.hub.config().max_message_size + 16 * 1024;
    let bytes = body(&state, request, max).await?;
    check(&state, &Method::POST, &path, &app_id, &query, &bytes)?;
    let e: Event = parse(&bytes)?;
    Ok(Json(match publish(&state, e).await? {
        Some(channels) => json!({ "channels": channels }),
        None => json!({}),
    }))
}

/// `POST /apps/{app_id}/batch_events`.
pub async fn batch_events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let path = request.uri().path().to_owned();
    let max = MAX_BATCH * (state.hub.config().max_message_size + 4096);
    let bytes = body(&state, request, max).await?;
    check(&state, &Method::POST, &path, &app_id, &query, &bytes)?;
    let batch: Batch = parse(&bytes)?;
    if batch.batch.len() > MAX_BATCH {
        return Err(bad(format!("a batch holds at most {MAX_BATCH} events")));
    }
    // Every event is checked before any is published.
    for e in &batch.batch {
        if e.channel.is_none() {
            return Err(bad("each event of a batch names its channel"));
        }
        channels_of(&state, e)?;
    }
    let mut infos = Vec::new();
    let mut any_info = false;
    for e in batch.batch {
        let info = publish(&state, e).await?;
        any_info |= info.is_some();
        infos.push(
            info.and_then(|v| v.as_object().and_then(|m| m.values().next().cloned()))
                .unwrap_or_else(|| json!({})),
        );
    }
    Ok(Json(if any_info {
        json!({ "batch": infos })
    } else {
        json!({})
    }))
}

/// `GET /apps/{app_id}/channels`: occupied channels.
pub async fn channels(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    check(
        &state,
        &Method::GET,
        request.uri().path(),
        &app_id,
        &query,
        b"",
    )?;
    let param = |k: &str| crate::edge::transport::param(&query, k);
    let prefix = param("filter_by_prefix").unwrap_or("");
    let info = param("info");
    let (users, _) = infos(info);
    if users && !prefix.starts_with("presence-") {
        return Err(bad("info=user_count needs filter_by_prefix=presence-"));
    }
    let mut out = Map::new();
    let occupied = state.hub.occupied_everywhere(prefix).await;
    for (channel, _) in occupied.map_err(unavailable)? {
        if is_reserved(&channel) {
            continue;
        }
        let mut attrs = Map::new();
        if users {
            attrs.insert(
                "user_count".into(),
                user_count(&state, &channel).await?.into(),
            );
        }
        out.insert(channel.to_string(), Value::Object(attrs));
    }
    Ok(Json(json!({ "channels": out })))
}

/// `GET /apps/{app_id}/channels/{channel}`.
pub async fn channel(
    State(state): State<AppState>,
    Path((app_id, channel)): Path<(String, String)>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    check(
        &state,
        &Method::GET,
        request.uri().path(),
        &app_id,
        &query,
        b"",
    )?;
    if !valid_name(&channel) {
        return Err(bad(format!("invalid channel name {channel:?}")));
    }
    let info = crate::edge::transport::param(&query, "info");
    let mut attrs = attributes(&state, &channel, info).await?;
    let subscribers = state.hub.subscribers_everywhere(&channel).await;
    attrs["occupied"] = (subscribers.map_err(unavailable)? > 0).into();
    Ok(Json(attrs))
}

/// `GET /apps/{app_id}/channels/{channel}/users`: a presence channel's
/// members.
pub async fn users(
    State(state): State<AppState>,
    Path((app_id, channel)): Path<(String, String)>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    check(
        &state,
        &Method::GET,
        request.uri().path(),
        &app_id,
        &query,
        b"",
    )?;
    if !channel.starts_with("presence-") || !valid_name(&channel) {
        return Err(bad("users are listed for presence channels only"));
    }
    let members = state.hub.presence_members(&channel).await;
    let users: Vec<Value> = members
        .map_err(unavailable)?
        .into_iter()
        .map(|m| json!({ "id": m.id }))
        .collect();
    Ok(Json(json!({ "users": users })))
}

/// `POST /apps/{app_id}/users/{user_id}/terminate_connections`: every
/// connection signed in as the user, on every engine, is closed (4009).
pub async fn terminate(
    State(state): State<AppState>,
    Path((app_id, user_id)): Path<(String, String)>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    terminate_user(state, app_id, user_id, query, request).await
}

/// `POST /users/{user_id}/terminate_connections`, signed the same: where
/// PyPI's `pusher` (3.3.4) sends `terminate_user_connections`, without
/// the `/apps/{app_id}` prefix; the app is the one its `auth_key` names.
pub async fn terminate_unprefixed(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(query): Query<Pairs>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let app_id = state.hub.config().pusher_app_id.clone();
    terminate_user(state, app_id, user_id, query, request).await
}

async fn terminate_user(
    state: AppState,
    app_id: String,
    user_id: String,
    query: Pairs,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let path = request.uri().path().to_owned();
    let bytes = body(&state, request, 4096).await?;
    check(&state, &Method::POST, &path, &app_id, &query, &bytes)?;
    if !valid_user_id(&user_id) {
        return Err(bad(format!(
            "invalid user id {:?}: 1 to 200 characters of A-Z a-z 0-9 - _ = @ , . ;",
            user_id.chars().take(80).collect::<String>()
        )));
    }
    to_user(&state, &user_id, Outgoing::new("{}").event(TERMINATE)).await?;
    Ok(Json(json!({})))
}

/// Sends `msg` on user `id`'s hub channel, where the user's connections
/// on every engine receive it. Without a shared broker, a user with no
/// connection here has none anywhere: nothing is sent (so no channel, nor
/// history, is made for a user who is not connected).
async fn to_user(state: &AppState, id: &str, msg: Outgoing) -> Result<(), ApiError> {
    let channel = hub_channel(id);
    if state.hub.broker().is_none() && state.hub.subscribers(&channel) == 0 {
        return Ok(());
    }
    state.hub.send_reserved(&channel, msg).await?;
    Ok(())
}
