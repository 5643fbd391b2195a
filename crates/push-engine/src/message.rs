//! Publications, their ids, and channel names.

use std::any::Any;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;

use bytes::Bytes;
use tokio::time::Instant;

use crate::error::Error;

/// A publication's position in its channel: the channel incarnation's epoch
/// and an offset that starts at 1. Ids compare first by epoch, then by offset,
/// so they strictly increase within a channel and across engine restarts.
///
/// The text form (`"<epoch hex>-<offset>"`) is opaque to clients: it is the
/// SSE `id:`, the long-poll cursor and the `push_get_message()` cursor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    pub epoch: u64,
    pub offset: u64,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{}", self.epoch, self.offset)
    }
}

impl FromStr for Id {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidId(s.chars().take(64).collect());
        let (epoch, offset) = s.split_once('-').ok_or_else(bad)?;
        let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if epoch.is_empty() || epoch.len() > 16 || !epoch.bytes().all(hex) {
            return Err(bad());
        }
        if offset.is_empty() || offset.len() > 20 || !offset.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(Id {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| bad())?,
            offset: offset.parse().map_err(|_| bad())?,
        })
    }
}

/// One published message. Built once and shared (`Arc`) by the history and
/// every subscriber: fan-out never copies its bytes.
#[derive(Debug)]
pub struct Publication {
    pub channel: Arc<str>,
    pub id: Id,
    pub event: Option<Arc<str>>,
    pub data: Bytes,
    /// Whether `data` is UTF-8 text (a WebSocket text frame) or binary.
    pub text: bool,
    /// When it was published; history ages out by it.
    pub at: Instant,
    /// Who published it, when a connection did (see [`Origin`]).
    pub origin: Option<Arc<Origin>>,
    /// Wire encodings, built once on first use and shared by every
    /// subscriber.
    frames: Frames,
}

/// The connection a publication came from, when one did: a protocol
/// adapter does not deliver it back to that connection, and may tell
/// subscribers which user sent it. The Redis broker carries it to every
/// engine (in its kind field, `broker/redis.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The connection's id, as its adapter names it.
    pub connection: String,
    /// The user it speaks for, if its adapter knows one.
    pub user: Option<String>,
}

/// Slots of [`Publication::shared_frame`]: one per protocol adapter that
/// frames publications its own way.
pub const FRAME_SLOTS: usize = 7;

#[derive(Debug, Default)]
struct Frames {
    sse: OnceLock<SseFrame>,
    json: OnceLock<Bytes>,
    shared: [OnceLock<Bytes>; FRAME_SLOTS],
    decoded: Decoded,
}

/// What a protocol adapter reads out of a publication, built once and
/// shared by every subscriber ([`Publication::decoded`]).
#[derive(Default)]
struct Decoded(OnceLock<Box<dyn Any + Send + Sync>>);

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.0.get().is_some() {
            "set"
        } else {
            "unset"
        };
        write!(f, "Decoded({state})")
    }
}

/// A publication as an SSE event: `whole` is the `id:` line and the rest
/// (`event:`, `data:` lines and the blank line), which a stream of one
/// channel sends as one chunk; a stream of several channels sends its own
/// composite `id:` line, then `rest` (a view of the same bytes).
#[derive(Debug, Clone)]
pub struct SseFrame {
    pub whole: Bytes,
    pub rest: Bytes,
}

impl Publication {
    pub fn new(
        channel: Arc<str>,
        id: Id,
        event: Option<Arc<str>>,
        data: Bytes,
        text: bool,
        at: Instant,
    ) -> Self {
        Publication {
            channel,
            id,
            event,
            data,
            text,
            at,
            origin: None,
            frames: Frames::default(),
        }
    }

    /// The same, sent by `origin`.
    pub fn with_origin(mut self, origin: Option<Origin>) -> Self {
        self.origin = origin.map(Arc::new);
        self
    }

    /// A wire encoding of an adapter's own, built once (by the first
    /// subscriber that needs it) and shared by every subscriber. `slot`
    /// (below [`FRAME_SLOTS`]) is the adapter's.
    pub fn shared_frame(&self, slot: usize, build: impl FnOnce(&Publication) -> Bytes) -> &Bytes {
        self.frames.shared[slot].get_or_init(|| build(self))
    }

    /// The data as text: itself if UTF-8, else base64.
    pub fn data_text(&self) -> std::borrow::Cow<'_, str> {
        match std::str::from_utf8(&self.data) {
            Ok(s) if self.text => s.into(),
            _ => base64::engine::general_purpose::STANDARD
                .encode(&self.data)
                .into(),
        }
    }

    /// The SSE encoding (binary data is base64-encoded).
    pub fn sse(&self) -> &SseFrame {
        self.frames.sse.get_or_init(|| {
            let mut rest = String::with_capacity(self.data.len() + 64);
            rest.push_str("id: ");
            rest.push_str(&self.id.to_string());
            rest.push('\n');
            let id_len = rest.len();
            if let Some(event) = &self.event {
                rest.push_str("event: ");
                rest.push_str(event);
                rest.push('\n');
            }
            let text = self.data_text();
            // SSE splits data at CRLF, LF and CR; one `data:` line each.
            // SSE ends a line at CRLF, LF or CR: one `data:` line each.
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            for line in text.split('\n') {
                rest.push_str("data: ");
                rest.push_str(line);
                rest.push('\n');
            }
            rest.push('\n');
            let whole = Bytes::from(rest);
            SseFrame {
                rest: whole.slice(id_len..),
                whole,
            }
        })
    }

    /// What `decode` makes of this publication, made once and shared by
    /// every subscriber that asks (a protocol adapter's parsed envelope and
    /// its wire frame). `None` if another type was decoded first (a
    /// channel read by two adapters that decode differently).
    pub fn decoded<T: Any + Send + Sync>(&self, decode: impl FnOnce(&Self) -> T) -> Option<&T> {
        self.frames
            .decoded
            .0
            .get_or_init(|| Box::new(decode(self)))
            .downcast_ref()
    }

    /// The JSON envelope `{"channel","id","event","data"}` (with
    /// `"encoding":"base64"` for binary data).
    pub fn json(&self) -> &Bytes {
        self.frames.json.get_or_init(|| {
            let mut v = serde_json::json!({
                "channel": &*self.channel,
                "id": self.id.to_string(),
                "event": self.event.as_deref(),
                "data": self.data_text(),
            });
            if !self.text {
                v["encoding"] = "base64".into();
            }
            Bytes::from(v.to_string())
        })
    }

    /// Bytes this publication holds, for memory accounting.
    pub fn weight(&self) -> usize {
        self.data.len() + self.event.as_ref().map_or(0, |e| e.len()) + 96
    }
}

/// What a publisher hands the hub.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub data: Bytes,
    pub event: Option<String>,
    /// Binary even if the data happens to be valid UTF-8 (a WebSocket
    /// binary frame stays binary).
    pub binary: bool,
    /// The connection that sends it, if one does.
    pub origin: Option<Origin>,
}

impl Outgoing {
    pub fn new(data: impl Into<Bytes>) -> Self {
        Outgoing {
            data: data.into(),
            event: None,
            binary: false,
            origin: None,
        }
    }

    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    pub fn binary(mut self) -> Self {
        self.binary = true;
        self
    }

    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }
}

/// Longest event name accepted (Pusher's limit: Laravel's own event names
/// run past 64).
pub const MAX_EVENT_LEN: usize = 200;

/// Checks an event name: 1–200 bytes, no line breaks or NUL (it becomes
/// an SSE `event:` line).
pub fn validate_event(event: &str) -> Result<(), Error> {
    if event.is_empty()
        || event.len() > MAX_EVENT_LEN
        || event.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0))
    {
        return Err(Error::InvalidEvent(event.chars().take(80).collect()));
    }
    Ok(())
}

/// Channel names beginning with this are reserved for the engine's own
/// use (a protocol adapter's log, such as the Mercure hub's): valid names,
/// but the hub refuses them to every door but the one its adapter uses
/// ([`crate::hub::Hub::send_reserved`], [`crate::hub::Hub::join_reserved`]).
pub const RESERVED_PREFIX: &str = ".push/";

/// Whether `name` is reserved for the engine's own use.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
}

/// Longest channel name accepted.
pub const MAX_CHANNEL_LEN: usize = 255;

/// The punctuation a channel name may hold besides letters and digits:
/// push's own `_ . : @ / -` and Pusher's `= , ;`, so that a name valid in
/// one door (push's, Pusher's) is valid in every door.
pub const CHANNEL_PUNCTUATION: &[u8] = b"_.:@/-=,;";

/// Checks a channel name: 1–255 characters of `[A-Za-z0-9_.:@/=,;-]`
/// (every Pusher channel name, up to 200 characters of `[-a-zA-Z0-9_=@,.;]`,
/// is one).
pub fn validate_channel(name: &[u8]) -> Result<&str, Error> {
    let ok = |b: &u8| b.is_ascii_alphanumeric() || CHANNEL_PUNCTUATION.contains(b);
    if name.is_empty() || name.len() > MAX_CHANNEL_LEN || !name.iter().all(ok) {
        let shown: String = String::from_utf8_lossy(name).chars().take(80).collect();
        return Err(Error::InvalidChannel(shown));
    }
    // Every accepted byte is ASCII, hence valid UTF-8.
    std::str::from_utf8(name).map_err(|_| Error::InvalidChannel(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order() {
        let a = Id {
            epoch: 0x18c2f,
            offset: 9,
        };
        let b = Id {
            epoch: 0x18c2f,
            offset: 10,
        };
        let c = Id {
            epoch: 0x18c30,
            offset: 1,
        };
        assert!(a < b && b < c);
        assert_eq!(a.to_string(), "18c2f-9");
        assert_eq!("18c2f-9".parse::<Id>().unwrap(), a);
        let max = Id {
            epoch: u64::MAX,
            offset: u64::MAX,
        };
        assert_eq!(max.to_string().parse::<Id>().unwrap(), max);
    }

    #[test]
    fn bad_ids_are_refused() {
        for s in [
            "",
            "-",
            "1-",
            "-1",
            "x-1",
            "1-x",
            "1-+2",
            "1- 2",
            "A-1",
            "1_2",
            "11111111111111111-1",
            "1-999999999999999999999",
            "1-2-3",
            "1-18446744073709551616",
        ] {
            assert!(s.parse::<Id>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn channel_names() {
        for good in [
            "news",
            "a",
            "user:42",
            "room/1.2@x_y-z",
            "presence-room=1,a;b",
            "private-App.Models.User.1",
            &"c".repeat(255),
        ] {
            assert!(validate_channel(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in ["", "a b", "é", "a\0b", "a\nb", "*", &"c".repeat(256)] {
            assert!(validate_channel(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(validate_channel(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn reserved_names() {
        assert!(is_reserved(".push/mercure"));
        assert!(!is_reserved(".push") && !is_reserved("push/x") && !is_reserved(".."));
        assert!(validate_channel(b".push/mercure").is_ok(), "a valid name");
    }

    #[test]
    fn decoded_once_and_shared() {
        let p = Publication::new(
            Arc::from("c"),
            Id::default(),
            None,
            Bytes::from_static(b"42"),
            true,
            Instant::now(),
        );
        let mut calls = 0;
        let parse = |p: &Publication| std::str::from_utf8(&p.data).unwrap().parse::<u32>();
        assert_eq!(
            p.decoded(|p| {
                calls += 1;
                parse(p)
            }),
            Some(&Ok(42))
        );
        assert_eq!(
            p.decoded(|p| {
                calls += 1;
                parse(p)
            }),
            Some(&Ok(42))
        );
        assert_eq!(calls, 1);
        assert_eq!(p.decoded(|_| "other type"), None);
    }

    #[test]
    fn event_names() {
        assert!(validate_event("update").is_ok());
        assert!(validate_event("").is_err());
        assert!(validate_event("a\nb").is_err());
        assert!(validate_event(&"e".repeat(200)).is_ok());
        assert!(
            validate_event("Illuminate\\Notifications\\Events\\BroadcastNotificationCreated")
                .is_ok()
        );
        assert!(validate_event(&"e".repeat(201)).is_err());
    }
}
