//! A Mercure update as the hub-wide log holds it, and as subscribers get it.
//!
//! Each update is one publication on the log channel ([`super::LOG`]):
//! a one-line JSON head (topics, private, the publisher's id, type,
//! retry), a line feed, then the data as it was posted. Its SSE frame
//! (`id:`, `event:`, `retry:`, one `data:` line per line) is built once,
//! the first time a subscriber needs it, and shared by all
//! ([`Publication::decoded`]).
//!
//! Ids: the publisher's own when it gave one, else `urn:push:` and the
//! publication's push id — so one `Last-Event-ID` names one place in the
//! log, whatever topics the subscription selects.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::message::{Id, Publication};

/// The prefix of the ids the hub gives updates that came without one.
pub const ID_PREFIX: &str = "urn:push:";

/// What the log holds of an update besides its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// The publisher's id, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The SSE event type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The SSE reconnection time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
}

impl Head {
    /// The log publication's data: the head, a line feed, the data.
    pub fn envelope(&self, data: &[u8]) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out.extend_from_slice(data);
        out
    }
}

/// The hub's id of the update published as `id` on the log.
pub fn push_id(id: Id) -> String {
    format!("{ID_PREFIX}{id}")
}

/// The log position a hub-made id names, if it is one.
pub fn parse_push_id(id: &str) -> Option<Id> {
    id.strip_prefix(ID_PREFIX)?.parse().ok()
}

/// An update read back from the log, with its SSE frame.
#[derive(Debug)]
pub struct View {
    pub topics: Vec<String>,
    pub private: bool,
    /// Its Mercure id.
    pub id: Arc<str>,
    /// The SSE event, ready to write.
    pub frame: Bytes,
}

impl View {
    /// The update a log publication holds; `None` if it holds none (a
    /// publication not made by this adapter).
    pub fn of(p: &Publication) -> Option<&View> {
        p.decoded(View::decode)?.as_ref()
    }

    fn decode(p: &Publication) -> Option<View> {
        let newline = p.data.iter().position(|&b| b == b'\n')?;
        let head: Head = serde_json::from_slice(&p.data[..newline]).ok()?;
        let data = std::str::from_utf8(&p.data[newline + 1..]).ok()?;
        let id: Arc<str> = match head.id {
            Some(id) => id.into(),
            None => push_id(p.id).into(),
        };
        let mut frame = String::with_capacity(data.len() + id.len() + 64);
        frame.push_str("id: ");
        frame.push_str(&id);
        frame.push('\n');
        if let Some(kind) = &head.kind {
            frame.push_str("event: ");
            frame.push_str(kind);
            frame.push('\n');
        }
        if let Some(retry) = head.retry {
            frame.push_str(&format!("retry: {retry}\n"));
        }
        // SSE ends a line at CRLF, LF or CR: one `data:` line each.
        let data = data.replace("\r\n", "\n").replace('\r', "\n");
        for line in data.split('\n') {
            frame.push_str("data: ");
            frame.push_str(line);
            frame.push('\n');
        }
        frame.push('\n');
        Some(View {
            topics: head.topics,
            private: head.private,
            id,
            frame: Bytes::from(frame),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(data: Vec<u8>) -> Publication {
        let id = Id {
            epoch: 0x1f,
            offset: 7,
        };
        Publication::new(
            Arc::from(super::super::LOG),
            id,
            None,
            Bytes::from(data),
            true,
            tokio::time::Instant::now(),
        )
    }

    #[test]
    fn envelopes_round_trip_into_frames() {
        let head = Head {
            topics: vec!["https://example.com/books/1".into(), "/news".into()],
            private: true,
            id: Some("my-id".into()),
            kind: Some("update".into()),
            retry: Some(3000),
        };
        let p = publication(head.envelope(b"line one\nline two\r\nthree"));
        let view = View::of(&p).unwrap();
        assert_eq!(view.topics, head.topics);
        assert!(view.private);
        assert_eq!(&*view.id, "my-id");
        assert_eq!(
            &view.frame[..],
            b"id: my-id\nevent: update\nretry: 3000\ndata: line one\ndata: line two\ndata: three\n\n"
        );
    }

    #[test]
    fn the_hub_names_updates_without_an_id() {
        let head = Head {
            topics: vec!["t".into()],
            ..Head::default()
        };
        let envelope = head.envelope(b"");
        assert_eq!(&envelope[..], b"{\"topics\":[\"t\"]}\n");
        let p = publication(envelope);
        let view = View::of(&p).unwrap();
        assert_eq!(&*view.id, "urn:push:1f-7");
        assert_eq!(&view.frame[..], b"id: urn:push:1f-7\ndata: \n\n");
        assert_eq!(parse_push_id(&view.id), Some(p.id));
        assert_eq!(parse_push_id("my-id"), None);
        assert_eq!(parse_push_id("urn:push:nope"), None);
    }

    #[test]
    fn other_publications_are_no_updates() {
        assert!(View::of(&publication(b"no head".to_vec())).is_none());
        assert!(View::of(&publication(b"[1]\ndata".to_vec())).is_none());
    }
}
