//! What a subscribing request asks for (`transport/mod.rs` `Wanted::parse`)
//! and the long-poll timeout (`transport/poll.rs` `wait_time`), from a path
//! channel, a raw query string and a `Last-Event-ID` header.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use push_engine::hub::Cursor;
use push_engine::message::validate_channel;
use push_engine::edge::transport::{poll, Query, Wanted};
use push_engine::Config;

fuzz_target!(|data: &[u8]| {
    // path channel \n query \n header
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let path = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let header = parts.next();
    let path = std::str::from_utf8(path).ok().filter(|p| !p.is_empty());
    // As axum's Query extractor decodes it.
    let Ok(query): Result<Query, _> = serde_urlencoded::from_bytes(query) else {
        return;
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = header.and_then(|h| HeaderValue::from_bytes(h).ok()) {
        headers.insert("last-event-id", value);
    }
    let config = Config {
        max_channels_per_connection: 8,
        ..Config::default()
    };
    if let Ok(wanted) = Wanted::parse(path, &query, &headers, &config) {
        let n = wanted.channels.len();
        assert!((1..=8).contains(&n));
        for (i, (name, cursor)) in wanted.channels.iter().enumerate() {
            assert!(validate_channel(name.as_bytes()).is_ok(), "{name:?}");
            assert!(
                wanted.channels[..i].iter().all(|(other, _)| other != name),
                "{name} twice"
            );
            if let Cursor::After(id) = cursor {
                assert_eq!(id.to_string().parse::<push_engine::Id>().unwrap(), *id);
            }
        }
        let format = query
            .iter()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.as_str());
        match format {
            Some("json") => assert!(wanted.json),
            Some("raw") => assert!(!wanted.json),
            Some(other) => panic!("format {other:?} accepted"),
            None => assert_eq!(wanted.json, n > 1),
        }
    }
    let max = Duration::from_secs(30);
    let timeout = query
        .iter()
        .find(|(k, _)| k == "timeout")
        .map(|(_, v)| v.as_str());
    match poll::wait_time(timeout, max) {
        Ok(wait) => {
            assert!(wait <= max);
            if timeout.is_none() {
                assert_eq!(wait, max);
            }
        }
        Err(_) => assert!(timeout.is_some()),
    }
});
