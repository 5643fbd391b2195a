//! The local socket (`push.socket`) through which other PHP processes
//! (php-fpm workers, CLI scripts) reach the engine.
//!
//! One connection per worker process, kept across requests; requests are
//! sequential on it. A frame is a big-endian `u32` length (of what follows),
//! a type byte and a payload:
//!
//! | type | request | payload |
//! |---|---|---|
//! | 0x01 | HELLO | `u16` protocol version |
//! | 0x02 | PUBLISH | channel (`u8` len + bytes), event (`u8` len + bytes, 0 = none), data (rest) |
//! | 0x03 | WAIT | channel, cursor (`u8` 0 = live, 1 = after + id), `u32` timeout ms |
//! | 0x04 | STATS | — |
//! | 0x05 | PUBLISH_BINARY | as PUBLISH; the data is sent as binary even if it is UTF-8 |
//! | 0x06 | PUBLISH_FROM | `u8` flags (1 binary), channel, event, origin (`u8` len + a Pusher socket id), data (rest) |
//! | 0x07 | MERCURE_PUBLISH | a Mercure update: its head (one line of JSON, [`crate::edge::mercure::update::Head`]), a line feed, its data (rest) |
//! | 0x08 | PRESENCE | channel |
//!
//! | type | answer | payload |
//! |---|---|---|
//! | 0x81 | HELLO | `u16` version, `u32` engine pid |
//! | 0x82 | PUBLISHED | id |
//! | 0x83 | MESSAGE | `u8` flags (1 lost, 2 text), id, event, data (rest) |
//! | 0x84 | TIMEOUT | position id |
//! | 0x85 | STATS | JSON of [`crate::EngineStats`] |
//! | 0x86 | MERCURE_PUBLISHED | the update's Mercure id (rest, UTF-8) |
//! | 0x88 | PRESENCE | JSON: the channel's members, cluster-wide, `[{"id": …, "info": JSON text or null}, …]` |
//! | 0xFF | ERROR | `u8` code, message (rest, UTF-8) |
//!
//! An id is two `u64` (epoch, offset). A worker gives up a WAIT by closing
//! the connection; the engine drops the waiter as soon as it sees that.

pub mod client;
pub mod payload;
pub mod server;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::Error;
use crate::message::{Id, Outgoing};

pub const VERSION: u16 = 1;

pub const HELLO: u8 = 0x01;
pub const PUBLISH: u8 = 0x02;
pub const WAIT: u8 = 0x03;
pub const STATS: u8 = 0x04;
/// PUBLISH of a message marked binary (push_send()'s `binary` option);
/// a plain PUBLISH stays what older engines know.
pub const PUBLISH_BINARY: u8 = 0x05;
/// PUBLISH on behalf of a connection that must not receive it
/// (push_send()'s `except`, a Pusher socket id); sent only when there is
/// one, so a plain PUBLISH stays what older engines know.
pub const PUBLISH_FROM: u8 = 0x06;
/// PUBLISH_FROM's flag: the data is binary.
pub const FLAG_BINARY: u8 = 1;
/// A Mercure update (PHP's `mercure_publish()` in a worker).
pub const MERCURE_PUBLISH: u8 = 0x07;
/// The members of a presence channel, cluster-wide.
pub const PRESENCE: u8 = 0x08;
pub const R_HELLO: u8 = 0x81;
pub const R_PUBLISHED: u8 = 0x82;
pub const R_MESSAGE: u8 = 0x83;
pub const R_TIMEOUT: u8 = 0x84;
pub const R_STATS: u8 = 0x85;
pub const R_MERCURE_PUBLISHED: u8 = 0x86;
pub const R_PRESENCE: u8 = 0x88;
pub const R_ERROR: u8 = 0xFF;

/// Bytes a frame may carry besides a message's data (a Mercure update's
/// head included).
pub const FRAME_OVERHEAD: usize = 1024 + crate::hub::RESERVED_ENVELOPE;

/// Error codes of an ERROR answer.
pub mod code {
    pub const BAD_REQUEST: u8 = 1;
    pub const INVALID_CHANNEL: u8 = 2;
    pub const TOO_LARGE: u8 = 3;
    pub const INVALID_EVENT: u8 = 4;
    pub const TOO_MANY_CHANNELS: u8 = 5;
    pub const SHUTTING_DOWN: u8 = 6;
    /// The Redis broker is unavailable; the message is the reason.
    pub const BROKER: u8 = 7;
    /// push.max_workers connections are open; `u32` max, then the message.
    pub const TOO_MANY_WORKERS: u8 = 8;
    /// The channel is reserved to a protocol adapter; the message is its name.
    pub const RESERVED_CHANNEL: u8 = 9;
    /// A Mercure update the hub does not take; the message is the reason.
    pub const INVALID_UPDATE: u8 = 10;
    /// The engine's Mercure hub is off (`push.mercure`).
    pub const MERCURE_OFF: u8 = 11;
}

/// Builds one frame.
pub fn frame(kind: u8, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_u32(0);
    b.put_u8(kind);
    fill(&mut b);
    let len = (b.len() - 4) as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b.freeze()
}

/// The request that publishes `msg` on `channel`: PUBLISH, PUBLISH_BINARY,
/// or PUBLISH_FROM when the message names the connection it comes from.
pub fn publish_frame(channel: &str, msg: &Outgoing) -> Bytes {
    let event = msg.event.as_deref().unwrap_or("").as_bytes();
    match &msg.origin {
        Some(origin) => frame(PUBLISH_FROM, |b| {
            b.put_u8(if msg.binary { FLAG_BINARY } else { 0 });
            put_str(b, channel.as_bytes());
            put_str(b, event);
            put_str(b, origin.connection.as_bytes());
            b.put_slice(&msg.data);
        }),
        None => frame(if msg.binary { PUBLISH_BINARY } else { PUBLISH }, |b| {
            put_str(b, channel.as_bytes());
            put_str(b, event);
            b.put_slice(&msg.data);
        }),
    }
}

pub fn put_str(b: &mut BytesMut, s: &[u8]) {
    let len = s.len().min(255);
    b.put_u8(len as u8);
    b.put_slice(&s[..len]);
}

pub fn put_id(b: &mut BytesMut, id: Id) {
    b.put_u64(id.epoch);
    b.put_u64(id.offset);
}

/// Reads the parts of a payload; every read is checked.
pub struct Reader(pub Bytes);

impl Reader {
    fn bad() -> Error {
        Error::Protocol("truncated frame".into())
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        (self.0.remaining() >= 1)
            .then(|| self.0.get_u8())
            .ok_or_else(Self::bad)
    }

    pub fn u16(&mut self) -> Result<u16, Error> {
        (self.0.remaining() >= 2)
            .then(|| self.0.get_u16())
            .ok_or_else(Self::bad)
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        (self.0.remaining() >= 4)
            .then(|| self.0.get_u32())
            .ok_or_else(Self::bad)
    }

    pub fn id(&mut self) -> Result<Id, Error> {
        if self.0.remaining() < 16 {
            return Err(Self::bad());
        }
        Ok(Id {
            epoch: self.0.get_u64(),
            offset: self.0.get_u64(),
        })
    }

    pub fn str(&mut self) -> Result<Bytes, Error> {
        let len = self.u8()? as usize;
        if self.0.remaining() < len {
            return Err(Self::bad());
        }
        Ok(self.0.split_to(len))
    }

    pub fn rest(self) -> Bytes {
        self.0
    }
}

/// The code of an engine error, for an ERROR answer.
pub fn error_code(e: &Error) -> u8 {
    match e {
        Error::InvalidChannel(_) => code::INVALID_CHANNEL,
        Error::ReservedChannel(_) => code::RESERVED_CHANNEL,
        Error::MessageTooLarge { .. } => code::TOO_LARGE,
        Error::InvalidEvent(_) => code::INVALID_EVENT,
        Error::TooManyChannels(_) => code::TOO_MANY_CHANNELS,
        Error::ShuttingDown => code::SHUTTING_DOWN,
        Error::Broker(_) => code::BROKER,
        Error::TooManyWorkers { .. } => code::TOO_MANY_WORKERS,
        Error::InvalidUpdate(_) => code::INVALID_UPDATE,
        Error::MercureOff => code::MERCURE_OFF,
        _ => code::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(PUBLISH, |b| {
            put_str(b, b"news");
            put_str(b, b"");
            b.put_slice(b"data");
        });
        assert_eq!(&f[..4], &(f.len() as u32 - 4).to_be_bytes());
        let mut r = Reader(f.slice(5..));
        assert_eq!(&r.str().unwrap()[..], b"news");
        assert_eq!(&r.str().unwrap()[..], b"");
        assert_eq!(&r.rest()[..], b"data");
    }

    /// PUBLISH_FROM carries the sender and the binary flag, and reads back
    /// to the same message; unknown flags and what is not a socket id are
    /// refused.
    #[test]
    fn publish_from_round_trips_and_refuses_what_it_cannot_mean() {
        use crate::message::Origin;
        let from = |id: &str| Origin {
            connection: id.to_owned(),
            user: None,
        };
        let msg = Outgoing::new("data")
            .event("e")
            .origin(from("12.34"))
            .binary();
        let f = publish_frame("news", &msg);
        assert_eq!(f[4], PUBLISH_FROM);
        let (channel, back) = payload::parse_publish_from(f.slice(5..)).unwrap();
        assert_eq!(channel, "news");
        assert_eq!(back.data, msg.data);
        assert_eq!(back.event.as_deref(), Some("e"));
        assert!(back.binary);
        assert_eq!(back.origin, Some(from("12.34")));
        // No sender: the PUBLISH older engines know.
        assert_eq!(publish_frame("news", &Outgoing::new("x"))[4], PUBLISH);

        let mut flags = f.slice(5..).to_vec();
        flags[0] = 2;
        assert!(payload::parse_publish_from(Bytes::from(flags)).is_err());
        for bad in ["", "1", "a.1", "1.2.3", "1.2 "] {
            let f = publish_frame("news", &Outgoing::new("x").origin(from(bad)));
            let e = payload::parse_publish_from(f.slice(5..)).unwrap_err();
            assert!(e.to_string().contains("invalid socket id"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn truncated_payloads_are_errors() {
        let mut r = Reader(Bytes::from_static(&[5, b'a']));
        assert!(r.str().is_err());
        let mut r = Reader(Bytes::from_static(&[1, 2, 3]));
        assert!(r.id().is_err());
        assert!(Reader(Bytes::new()).u8().is_err());
    }
}
