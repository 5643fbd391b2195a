//! Bad WebSocket handshakes: versions, keys, missing or wrong `Upgrade` and
//! `Connection`, other methods and HTTP versions, origins. Refused before
//! anything is subscribed; an accepted upgrade lets go when it closes.

use crate::common::*;
use crate::harness::*;

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
const V13: &str = "Sec-WebSocket-Version: 13";
const CONN: &str = "Connection: Upgrade";
const UPGRADE: &str = "Upgrade: websocket";
const ALLOWED: &str = "https://app.example";

/// A GET of `path` with the standard upgrade headers, `drop` left out and
/// `add` appended.
fn upgrade(path: &str, drop: &[&str], add: &[&str]) -> Vec<u8> {
    upgrade_with("GET", "HTTP/1.1", path, drop, add)
}

fn upgrade_with(method: &str, version: &str, path: &str, drop: &[&str], add: &[&str]) -> Vec<u8> {
    let mut lines: Vec<&str> = [CONN, UPGRADE, V13, KEY]
        .into_iter()
        .filter(|l| !drop.contains(l))
        .collect();
    lines.extend_from_slice(add);
    let mut s = format!("{method} {path} {version}\r\nHost: localhost\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn cases() -> Vec<(&'static str, Vec<u8>, Want)> {
    let version = |v: &'static str| upgrade("/ws/h", &[V13], &[v]);
    let key = |k: &'static str| upgrade("/ws/h", &[KEY], &[k]);
    let must13 = Want::Status(426, "Sec-WebSocket-Version must be 13");
    let bad_key = Want::Status(400, "Sec-WebSocket-Key");
    let mut non_ascii_key = upgrade(
        "/ws/h",
        &[KEY],
        &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="],
    );
    let at = non_ascii_key.windows(4).position(|w| w == b"dGhl").unwrap();
    non_ascii_key[at] = 0xc3;
    non_ascii_key[at + 1] = 0xa9;
    vec![
        ("version 12", version("Sec-WebSocket-Version: 12"), must13),
        ("version 14", version("Sec-WebSocket-Version: 14"), must13),
        ("version 8", version("Sec-WebSocket-Version: 8"), must13),
        ("version 0", version("Sec-WebSocket-Version: 0"), must13),
        (
            "version garbage",
            version("Sec-WebSocket-Version: thirteen"),
            must13,
        ),
        ("version empty", version("Sec-WebSocket-Version:"), must13),
        (
            "version list",
            version("Sec-WebSocket-Version: 13, 8"),
            must13,
        ),
        ("version 013", version("Sec-WebSocket-Version: 013"), must13),
        ("version missing", upgrade("/ws/h", &[V13], &[]), must13),
        ("key missing", upgrade("/ws/h", &[KEY], &[]), bad_key),
        ("key empty", key("Sec-WebSocket-Key:"), bad_key),
        (
            "key short",
            key("Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="),
            bad_key,
        ),
        (
            "key 25 characters",
            key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==="),
            bad_key,
        ),
        (
            "key not base64",
            key("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!"),
            bad_key,
        ),
        (
            "key of 18 bytes",
            key("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA"),
            bad_key,
        ),
        (
            "key with a space",
            key("Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ="),
            bad_key,
        ),
        ("key not ASCII", non_ascii_key, bad_key),
        (
            "Upgrade missing",
            upgrade("/ws/h", &[UPGRADE], &[]),
            Want::Status(426, "upgrade is required"),
        ),
        (
            "Connection missing",
            upgrade("/ws/h", &[CONN], &[]),
            Want::Status(426, "upgrade is required"),
        ),
        (
            "Connection close",
            upgrade("/ws/h", &[CONN], &["Connection: close"]),
            Want::Status(426, "upgrade is required"),
        ),
        (
            "Upgrade h2c",
            upgrade("/ws/h", &[UPGRADE], &["Upgrade: h2c"]),
            Want::Status(426, "upgrade is required"),
        ),
        (
            "Upgrade websocket2",
            upgrade("/ws/h", &[UPGRADE], &["Upgrade: websocket2"]),
            Want::Status(426, "upgrade is required"),
        ),
        (
            "root without Upgrade",
            upgrade("/", &[UPGRADE], &[]),
            Want::Status(426, "this is a push engine"),
        ),
        (
            "POST upgrade",
            upgrade_with("POST", "HTTP/1.1", "/ws/h", &[], &["Content-Length: 0"]),
            Want::Status(405, "method not allowed"),
        ),
        (
            "POST upgrade on root",
            upgrade_with("POST", "HTTP/1.1", "/", &[], &["Content-Length: 0"]),
            Want::Status(405, "method not allowed"),
        ),
        (
            "PUT upgrade",
            upgrade_with("PUT", "HTTP/1.1", "/ws/h", &[], &["Content-Length: 0"]),
            Want::Status(405, "method not allowed"),
        ),
        (
            "HTTP/1.0 upgrade",
            upgrade_with("GET", "HTTP/1.0", "/ws/h", &[], &[]),
            Want::Status(400, "needs HTTP/1.1"),
        ),
        (
            "HEAD upgrade",
            upgrade_with("HEAD", "HTTP/1.1", "/ws/h", &[], &[]),
            Want::Status(101, ""),
        ),
        (
            "bad channel",
            upgrade("/ws/bad%20name", &[], &[]),
            Want::Status(400, "invalid channel name"),
        ),
        (
            "origin not allowed",
            upgrade("/ws/h", &[], &["Origin: https://evil.example"]),
            Want::Status(403, "origin not allowed"),
        ),
        (
            "origin null",
            upgrade("/ws/h", &[], &["Origin: null"]),
            Want::Status(403, "origin not allowed"),
        ),
        (
            "upgrade to /health",
            upgrade("/health", &[], &[]),
            Want::Status(200, "\"status\":\"ok\""),
        ),
        (
            "upgrade to /poll",
            upgrade("/poll/h?timeout=0", &[], &[]),
            Want::Status(200, "\"messages\":[]"),
        ),
        // Accepted, and the connection lets go of its subscription when it
        // closes (checked after each case).
        (
            "version with spaces",
            version("Sec-WebSocket-Version:   13  "),
            Want::Status(101, ""),
        ),
        // permessage-deflate is accepted (tests/ws_deflate.rs); these
        // are not, and the connection goes on without an extension.
        (
            "unknown extension asked",
            upgrade(
                "/ws/h",
                &[],
                &["Sec-WebSocket-Extensions: x-webkit-deflate-frame"],
            ),
            Want::Status(101, ""),
        ),
        (
            "deflate with a window push cannot honour",
            upgrade(
                "/ws/h",
                &[],
                &["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9"],
            ),
            Want::Status(101, ""),
        ),
        (
            "deflate with an unknown parameter",
            upgrade(
                "/ws/h",
                &[],
                &["Sec-WebSocket-Extensions: permessage-deflate; x=1, permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            ),
            Want::Status(101, ""),
        ),
        (
            "subprotocol asked",
            upgrade("/ws/h", &[], &["Sec-WebSocket-Protocol: chat, superchat"]),
            Want::Status(101, ""),
        ),
        (
            "allowed origin",
            upgrade("/ws/h", &[], &[&format!("Origin: {ALLOWED}")]),
            Want::Status(101, ""),
        ),
        (
            "1000 Connection tokens",
            upgrade(
                "/ws/h",
                &[CONN],
                &[&format!("Connection: {}Upgrade", "x, ".repeat(1000))],
            ),
            Want::Status(101, ""),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_handshakes_are_refused() {
    let server = Server::start_with(|c| {
        c.allowed_origins = push_engine::config::Patterns::List(vec![ALLOWED.into()]);
    })
    .await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("handshake");
    let cases = cases()
        .into_iter()
        .map(|(name, bytes, want)| Case::new(name, bytes, Expect::Handshake(want)));
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}
