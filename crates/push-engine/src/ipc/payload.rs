//! What the payload of each request frame on the local socket says
//! (`PUBLISH`, `PUBLISH_BINARY`, `PUBLISH_FROM`, `MERCURE_PUBLISH`, `WAIT`):
//! read, checked as far as the frame goes (UTF-8, flags, a socket id), and
//! handed to the hub, which checks names against its rules.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::edge::mercure::update::Head;
use crate::edge::pusher::channels::valid_socket_id;
use crate::error::Error;
use crate::hub::Cursor;
use crate::message::{Origin, Outgoing};

/// A MERCURE_PUBLISH payload: the update's head and its data.
pub fn parse_mercure_publish(payload: Bytes) -> Result<(Head, Bytes), Error> {
    let bad = || Error::Protocol("a MERCURE_PUBLISH is a JSON head, a line feed, the data".into());
    let newline = payload.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let head: Head = serde_json::from_slice(&payload[..newline]).map_err(|_| bad())?;
    Ok((head, payload.slice(newline + 1..)))
}

/// A PUBLISH payload: the channel (UTF-8, not yet checked against the
/// name rules) and the message.
pub fn parse_publish(payload: Bytes) -> Result<(String, Outgoing), Error> {
    let mut r = Reader(payload);
    let (channel, event) = channel_and_event(&mut r)?;
    Ok((channel, with_event(Outgoing::new(r.rest()), event)))
}

/// A PUBLISH_FROM payload: as [`parse_publish`], with the flags first and
/// the sending connection (a Pusher socket id, checked) before the data.
pub fn parse_publish_from(payload: Bytes) -> Result<(String, Outgoing), Error> {
    let mut r = Reader(payload);
    let flags = r.u8()?;
    if flags & !FLAG_BINARY != 0 {
        return Err(Error::Protocol(format!("unknown flags {flags:#x}")));
    }
    let (channel, event) = channel_and_event(&mut r)?;
    let origin = r.str()?;
    let connection = std::str::from_utf8(&origin)
        .ok()
        .filter(|id| valid_socket_id(id))
        .ok_or_else(|| {
            Error::Protocol(format!(
                "invalid socket id {:?}: digits.digits, as pusher-js sends it",
                String::from_utf8_lossy(&origin)
            ))
        })?
        .to_owned();
    let mut msg = with_event(Outgoing::new(r.rest()), event).origin(Origin {
        connection,
        user: None,
    });
    if flags & FLAG_BINARY != 0 {
        msg = msg.binary();
    }
    Ok((channel, msg))
}

/// A publication's channel (UTF-8, not yet checked against the name
/// rules) and event name (none if empty).
fn channel_and_event(r: &mut Reader) -> Result<(String, Option<String>), Error> {
    let channel = r.str()?;
    let event = r.str()?;
    let channel = std::str::from_utf8(&channel)
        .map_err(|_| Error::InvalidChannel(String::from_utf8_lossy(&channel).into()))?;
    let event = match event.is_empty() {
        true => None,
        false => Some(
            std::str::from_utf8(&event)
                .map_err(|_| Error::InvalidEvent(String::from_utf8_lossy(&event).into()))?
                .to_owned(),
        ),
    };
    Ok((channel.to_owned(), event))
}

fn with_event(msg: Outgoing, event: Option<String>) -> Outgoing {
    match event {
        Some(event) => msg.event(event),
        None => msg,
    }
}

/// A WAIT payload: the channel (UTF-8, not yet checked against the name
/// rules), where to start, and how long to wait.
pub fn parse_wait(payload: Bytes) -> Result<(String, Cursor, Duration), Error> {
    let mut r = Reader(payload);
    let channel = r.str()?;
    let channel =
        String::from_utf8(channel.to_vec()).map_err(|_| Error::InvalidChannel(String::new()))?;
    let cursor = match r.u8()? {
        0 => Cursor::Live,
        1 => Cursor::After(r.id()?),
        other => return Err(Error::Protocol(format!("cursor kind {other}"))),
    };
    let timeout = Duration::from_millis(u64::from(r.u32()?));
    Ok((channel, cursor, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mercure_publish_payloads() {
        let head = Head {
            topics: vec!["https://example.com/a".into()],
            private: true,
            id: Some("x".into()),
            ..Head::default()
        };
        let (parsed, data) =
            parse_mercure_publish(Bytes::from(head.envelope(b"line\nnext"))).unwrap();
        assert_eq!(parsed, head);
        assert_eq!(&data[..], b"line\nnext");
        for bad in [&b"no head"[..], b"[1]\ndata", b"{\"topics\":1}\n", b""] {
            assert!(parse_mercure_publish(Bytes::from_static(bad)).is_err());
        }
    }
}
