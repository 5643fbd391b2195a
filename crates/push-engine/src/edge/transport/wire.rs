//! A WebSocket's wire as the engine handles it itself, for its own
//! WebSocket and the Pusher protocol's: the upgrade request's checks and
//! the answer (RFC 6455 4.1), server frames built by tungstenite's header
//! code, and writing them to the socket after what tungstenite holds.

use std::pin::Pin;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::WebSocketStream;

use super::deflate;
use crate::edge::error::ApiError;
use crate::message::Publication;

/// Bytes of control frames (pings, pongs, the close) tungstenite may hold
/// for a connection that does not read them.
pub(crate) const WS_CONTROL_QUEUE: usize = 64 * 1024;

/// tungstenite's read buffer, allocated (and zero-filled) for every
/// connection when it opens, and the most read from the socket at once.
/// Clients send little (pings, subscriptions, the odd message), so it is
/// small: 512 bytes instead of 4 KB took an idle WebSocket's heap from
/// 8.1 to 4.6 KB (`tests/ws_idle_memory.rs`); a client's 64 KB message
/// takes 128 reads instead of 16. The buffer grows to a frame's length
/// while that frame is read.
pub(crate) const WS_READ_CHUNK: usize = 512;

/// Bytes of frames written at once, at most (then the next batch).
pub(crate) const WRITE_BATCH: usize = 64 * 1024;

/// Capacity of the frame buffer a connection keeps between batches (a
/// larger one is freed).
pub(crate) const OUT_KEPT: usize = 4096;

pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

/// Checks a WebSocket upgrade request (RFC 6455 4.1) and returns the
/// `Sec-WebSocket-Accept` to answer it with.
pub(crate) fn accept_key(headers: &HeaderMap) -> Result<String, ApiError> {
    if !is_upgrade(headers) {
        return Err(ApiError::UpgradeRequired(
            "a WebSocket upgrade is required here",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err(ApiError::UpgradeRequired(
            "Sec-WebSocket-Version must be 13",
        ));
    }
    // RFC 6455 4.1: the key is 16 bytes, base64-encoded (24 characters).
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| {
            k.len() == 24
                && base64::engine::general_purpose::STANDARD
                    .decode(k.as_bytes())
                    .is_ok_and(|raw| raw.len() == 16)
        })
        .ok_or_else(|| ApiError::BadRequest("Sec-WebSocket-Key is missing or malformed".into()))?;
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The `101 Switching Protocols` answer, with the extension negotiated
/// (`Sec-WebSocket-Extensions`), if any.
pub(crate) fn switching(accept: &str, extension: Option<&str>) -> Result<Response<Body>, ApiError> {
    let value = |v: &str| HeaderValue::from_str(v).map_err(|e| ApiError::Internal(e.to_string()));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, value(accept)?);
    if let Some(extension) = extension {
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, value(extension)?);
    }
    Ok(response)
}

/// A whole server frame of `payload` compressed (RSV1 set); empty when
/// deflate does not shrink it.
pub(crate) fn deflated_frame(kind: Data, payload: &[u8]) -> Bytes {
    let Some(packed) = deflate::compress(payload) else {
        return Bytes::new();
    };
    let header = FrameHeader {
        is_final: true,
        rsv1: true,
        opcode: OpCode::Data(kind),
        mask: None,
        ..FrameHeader::default()
    };
    let mut frame = Vec::with_capacity(packed.len() + 10);
    // Writing into a Vec cannot fail.
    let _ = header.format(packed.len() as u64, &mut frame);
    frame.extend_from_slice(&packed);
    Bytes::from(frame)
}

/// Slots of [`Publication::shared_frame`] for push's own WebSocket: a
/// publication's frame, built once for every subscriber — compressed
/// (permessage-deflate) or not, of its data or of its JSON envelope
/// (`?format=json`).
const DEFLATED_DATA: usize = 1;
const DEFLATED_JSON: usize = 2;
const PLAIN_DATA: usize = 4;
const PLAIN_JSON: usize = 5;

/// A publication's WebSocket frame as push's own WebSocket sends it: its
/// data (or its JSON envelope, `json`), compressed when `compress` holds
/// the size from which messages are (`push.ws_compression_min_size`) and
/// deflate shrinks it. The same bytes for every subscriber, built once.
pub(crate) fn ws_frame(p: &Publication, json: bool, compress: Option<usize>) -> &Bytes {
    // `text` is set only when the data was checked to be UTF-8.
    let (kind, payload, deflated, plain) = if json {
        (Data::Text, &p.json()[..], DEFLATED_JSON, PLAIN_JSON)
    } else if p.text {
        (Data::Text, &p.data[..], DEFLATED_DATA, PLAIN_DATA)
    } else {
        (Data::Binary, &p.data[..], DEFLATED_DATA, PLAIN_DATA)
    };
    if compress.is_some_and(|min| payload.len() >= min) {
        let frame = p.shared_frame(deflated, |_| deflated_frame(kind, payload));
        if !frame.is_empty() {
            return frame;
        }
    }
    p.shared_frame(plain, |_| {
        let mut frame = Vec::with_capacity(payload.len() + 10);
        put_frame(&mut frame, kind, payload);
        Bytes::from(frame)
    })
}

/// Appends one unfragmented, unmasked server frame, its header encoded by
/// tungstenite.
pub(crate) fn put_frame(out: &mut Vec<u8>, kind: Data, payload: &[u8]) {
    let header = FrameHeader {
        is_final: true,
        opcode: OpCode::Data(kind),
        mask: None,
        ..FrameHeader::default()
    };
    // Writing into a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Writes framed deliveries to the socket, after what tungstenite holds.
/// `Ok(true)`: the socket could not take them at once (its send buffer was
/// full), a reason to coalesce the next batch (`coalesce.rs`).
pub(crate) async fn write_out<S>(
    ws: &mut WebSocketStream<S>,
    pending: &mut bool,
    bytes: &[u8],
) -> Result<bool, ()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if *pending {
        ws.flush().await.map_err(drop)?;
        *pending = false;
    }
    let io = ws.get_mut();
    let mut backed_up = false;
    let mut rest = bytes;
    while !rest.is_empty() {
        let written = std::future::poll_fn(|cx| {
            let poll = Pin::new(&mut *io).poll_write(cx, rest);
            backed_up |= poll.is_pending();
            poll
        })
        .await
        .map_err(drop)?;
        if written == 0 {
            return Err(());
        }
        backed_up |= written < rest.len();
        rest = &rest[written..];
    }
    Ok(backed_up)
}
