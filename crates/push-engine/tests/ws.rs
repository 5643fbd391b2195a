//! The WebSocket transport over real TCP: frames and JSON envelopes,
//! several channels, refusals, resuming and loss, origins and shutdown
//! (keep-alive and slow readers are in `ws_pace.rs`, client publishing and
//! its close codes in `ws_publish.rs`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use push_engine::config::Patterns;
use push_engine::Id;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

fn offsets(envelopes: &[Value]) -> Vec<u64> {
    envelopes
        .iter()
        .map(|v| v["id"].as_str().unwrap().parse::<Id>().unwrap().offset)
        .collect()
}

// ---------------------------------------------------------------- frames

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_sent_as_text_frames_and_binary_as_binary_frames() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/news").await;
    server.publish("news", "hello");
    server.publish("news", vec![0xffu8, 0x00, 0x80]);
    server.publish_event("news", "update", "héllo");
    server.publish("news", "");
    assert_eq!(ws_next(&mut ws).await, Message::text("hello"));
    assert_eq!(
        ws_next(&mut ws).await,
        Message::binary(Bytes::from_static(&[0xff, 0x00, 0x80]))
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Message::text("héllo"),
        "raw frames carry no event name"
    );
    assert_eq!(ws_next(&mut ws).await, Message::text(""));
    ws_quiet(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_json_sends_envelopes() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws/news?format=json").await;
    let text = server.publish("news", "hello");
    let binary = server.publish("news", vec![0xffu8, 0x00, 0x80]);
    let event = server.publish_event("news", "update", "a\nb");
    let got = ws_json(&mut ws).await;
    assert_eq!(
        got,
        json!({"channel": "news", "id": text.id.to_string(), "event": null, "data": "hello"})
    );
    let got = ws_json(&mut ws).await;
    assert_eq!(
        got,
        json!({"channel": "news", "id": binary.id.to_string(), "event": null, "data": "/wCA", "encoding": "base64"})
    );
    let got = ws_json(&mut ws).await;
    assert_eq!(
        got,
        json!({"channel": "news", "id": event.id.to_string(), "event": "update", "data": "a\nb"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_default_to_json_envelopes() {
    let server = Server::start().await;
    let mut ws = ws_open(server.addr, "/ws?channel=a&channel=b").await;
    let a = server.publish("a", "for a");
    let b = server.publish("b", vec![1u8, 0xff]);
    let mut got = vec![ws_json(&mut ws).await, ws_json(&mut ws).await];
    got.sort_by_key(|v| v["channel"].as_str().unwrap().to_owned());
    assert_eq!(got, vec![envelope(&a), envelope(&b)]);
    ws_quiet(&mut ws, Duration::from_millis(200)).await;

    // The path channel and ?channel= add up; format=raw is honoured.
    let mut raw = ws_open(server.addr, "/ws/a?channel=b&format=raw").await;
    server.publish("b", "raw b");
    assert_eq!(ws_next(&mut raw).await, Message::text("raw b"));
}

// ---------------------------------------------------------------- refusals

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_channels_are_refused_with_400() {
    let server = Server::start_with(|c| c.max_channels_per_connection = 2).await;
    let (status, body) = ws_refused(server.addr, "/ws?channel=a&channel=b&channel=c").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("max_channels_per_connection"), "{body}");
    let (status, _) = ws_refused(server.addr, "/ws/a?channel=b&channel=c").await;
    assert_eq!(status, 400);
    // Repeats count once; exactly the limit is fine.
    let _ok = ws_open(server.addr, "/ws/a?channel=b&channel=a").await;
    let _ok = ws_open(server.addr, "/ws?channel=a&channel=b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_400() {
    let server = Server::start().await;
    let a = server.publish("a", "x");
    for path in [
        "/ws/bad*name".to_owned(),
        "/ws/a%20b".to_owned(),
        format!("/ws/{}", "c".repeat(256)),
        "/ws".to_owned(),
        "/ws?channel=".to_owned(),
        "/ws?channel=a&channel=b%20c".to_owned(),
        "/ws/a?format=xml".to_owned(),
        "/ws/a?lastEventId=nope".to_owned(),
        // Several channels resume with a composite cursor only.
        format!("/ws?channel=a&channel=b&lastEventId={}", a.id),
        format!("/ws?channel=a&channel=b&lastEventId={}", enc("a=1-x")),
    ] {
        let (status, body) = ws_refused(server.addr, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let json: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert!(json["error"].is_string(), "{path}: {body}");
    }
    assert_eq!(
        server.hub.stats().subscribers,
        0,
        "a refused upgrade subscribes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_are_not_16_base64_bytes_are_refused_with_400() {
    let server = Server::start().await;
    for key in [
        "!!!!!!!!!!!!!!!!!!!!!!!!", // 24 characters, not base64
        "AAAAAAAAAAAAAAAAAAAAAAAA", // base64 of 18 bytes
        "dGhlIHNhbXBs ZSBub25jZQ=",
    ] {
        let r = get_with(
            server.addr,
            "/ws/a",
            &[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", key),
            ],
        )
        .await;
        assert_eq!(r.status, 400, "{key}: {}", r.text());
        assert!(r.text().contains("Sec-WebSocket-Key"), "{key}");
    }
    assert_eq!(server.hub.stats().subscribers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_upgrade_is_a_bad_request_not_an_internal_error() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /ws/a HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    timeout(T, stream.read_to_end(&mut raw))
        .await
        .expect("an answer within T")
        .unwrap();
    let answer = String::from_utf8_lossy(&raw);
    assert!(answer.starts_with("HTTP/1.0 400 "), "{answer}");
    assert!(answer.contains("needs HTTP/1.1"), "{answer}");
    assert_eq!(server.hub.stats().subscribers, 0);
}

// ---------------------------------------------------------------- resuming

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_gives_what_follows_the_cursor_then_live_messages() {
    let server = Server::start().await;
    let sent: Vec<_> = (1..=5)
        .map(|i| server.publish("r", format!("m{i}")))
        .collect();

    let mut ws = ws_open(
        server.addr,
        &format!("/ws/r?format=json&lastEventId={}", sent[1].id),
    )
    .await;
    for p in &sent[2..] {
        assert_eq!(ws_json(&mut ws).await, envelope(p));
    }
    let live = server.publish("r", "m6");
    assert_eq!(ws_json(&mut ws).await, envelope(&live));
    ws_quiet(&mut ws, Duration::from_millis(200)).await;

    // Raw mode resumes the same way; the newest id resumes with nothing.
    let mut raw = ws_open(server.addr, &format!("/ws/r?lastEventId={}", sent[3].id)).await;
    assert_eq!(ws_text(&mut raw).await, "m5");
    assert_eq!(ws_text(&mut raw).await, "m6");
    let mut newest = ws_open(server.addr, &format!("/ws/r?lastEventId={}", live.id)).await;
    ws_quiet(&mut newest, Duration::from_millis(100)).await;
    let next = server.publish("r", "m7");
    assert_eq!(ws_text(&mut newest).await, "m7");
    assert_eq!(ws_text(&mut raw).await, "m7");
    assert_eq!(next.id.offset, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_while_publishing_has_no_gap_and_no_duplicate() {
    let server = Server::start_with(|c| {
        c.history = 1000;
        c.channel_buffer = 1024;
    })
    .await;
    let first: Vec<_> = (1..=50)
        .map(|i| server.publish("busy", i.to_string()))
        .collect();
    let hub = server.hub.clone();
    let publisher = tokio::spawn(async move {
        for i in 51..=300 {
            hub.publish("busy", push_engine::Outgoing::new(i.to_string()))
                .unwrap();
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let mut ws = ws_open(
        server.addr,
        &format!("/ws/busy?format=json&lastEventId={}", first[19].id),
    )
    .await;
    let mut got = Vec::new();
    while got.len() < 280 {
        got.push(ws_json(&mut ws).await);
    }
    timeout(T, publisher).await.unwrap().unwrap();
    assert_eq!(offsets(&got), (21..=300).collect::<Vec<u64>>());
    for v in &got {
        assert_eq!(
            v["data"],
            v["id"]
                .as_str()
                .unwrap()
                .parse::<Id>()
                .unwrap()
                .offset
                .to_string()
        );
    }
    ws_quiet(&mut ws, Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_cursor_is_reported_in_json_mode_then_the_oldest_held_follow() {
    let server = Server::start_with(|c| c.history = 3).await;
    let sent: Vec<_> = (1..=6)
        .map(|i| server.publish("l", format!("m{i}")))
        .collect();
    let mut ws = ws_open(
        server.addr,
        &format!("/ws/l?format=json&lastEventId={}", sent[0].id),
    )
    .await;
    assert_eq!(
        ws_json(&mut ws).await,
        json!({"type": "lost", "channel": "l", "requested": sent[0].id.to_string(), "oldest": sent[3].id.to_string()})
    );
    for p in &sent[3..] {
        assert_eq!(ws_json(&mut ws).await, envelope(p));
    }
    let live = server.publish("l", "m7");
    assert_eq!(ws_json(&mut ws).await, envelope(&live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_cursor_closes_a_raw_socket_with_4001() {
    let server = Server::start_with(|c| c.history = 3).await;
    let sent: Vec<_> = (1..=6)
        .map(|i| server.publish("l", format!("m{i}")))
        .collect();
    let mut ws = ws_open(server.addr, &format!("/ws/l?lastEventId={}", sent[0].id)).await;
    assert_eq!(
        ws_close_code(&mut ws).await,
        4001,
        "and no message before the close"
    );
    // A cursor of another epoch is lost too.
    let mut ws = ws_open(server.addr, "/ws/l?lastEventId=1-1").await;
    assert_eq!(ws_close_code(&mut ws).await, 4001);
    // The cursor just before the oldest held is not lost.
    let mut ws = ws_open(server.addr, &format!("/ws/l?lastEventId={}", sent[2].id)).await;
    assert_eq!(ws_text(&mut ws).await, "m4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_resume_with_a_composite_cursor() {
    let server = Server::start().await;
    let a: Vec<_> = (1..=3)
        .map(|i| server.publish("a", format!("a{i}")))
        .collect();
    let b: Vec<_> = (1..=2)
        .map(|i| server.publish("b", format!("b{i}")))
        .collect();
    server.publish("c", "c1");
    let cursor = format!("a={},b={}", a[0].id, b[1].id);
    // c is not in the cursor: it starts live.
    let mut ws = ws_open(
        server.addr,
        &format!(
            "/ws?channel=a&channel=b&channel=c&lastEventId={}",
            enc(&cursor)
        ),
    )
    .await;
    assert_eq!(ws_json(&mut ws).await, envelope(&a[1]));
    assert_eq!(ws_json(&mut ws).await, envelope(&a[2]));
    ws_quiet(&mut ws, Duration::from_millis(200)).await;
    let b3 = server.publish("b", "b3");
    assert_eq!(ws_json(&mut ws).await, envelope(&b3));
    let c2 = server.publish("c", "c2");
    assert_eq!(ws_json(&mut ws).await, envelope(&c2));
    ws_quiet(&mut ws, Duration::from_millis(100)).await;
}

// ---------------------------------------------------------------- origins and shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_not_allowed_are_refused_with_403() {
    let server =
        Server::start_with(|c| c.allowed_origins = Patterns::List(vec!["http://good".into()]))
            .await;
    let refused = ws_try(server.addr, "/ws/news", &[("Origin", "http://evil")]).await;
    match refused {
        Err((status, body)) => assert_eq!(status, 403, "{body}"),
        Ok(_) => panic!("an upgrade from http://evil was accepted"),
    }
    let mut good = ws_try(server.addr, "/ws/news", &[("Origin", "http://good")])
        .await
        .unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    // No Origin: not a browser, not refused.
    let mut none = ws_open(server.addr, "/ws/news").await;
    server.publish("news", "hi");
    assert_eq!(ws_text(&mut good).await, "hi");
    assert_eq!(ws_text(&mut none).await, "hi");
    assert_eq!(
        server.hub.stats().subscribers,
        2,
        "the refused upgrade subscribed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001() {
    let mut server = Server::start().await;
    let mut raw = ws_open(server.addr, "/ws/a").await;
    let mut json = ws_open(server.addr, "/ws/a?format=json").await;
    let mut multi = ws_open(server.addr, "/ws?channel=a&channel=b").await;
    let p = server.publish("a", "last");
    server.begin_shutdown();
    // What was queued still goes out first.
    assert_eq!(ws_text(&mut raw).await, "last");
    assert_eq!(ws_json(&mut json).await, envelope(&p));
    for ws in [&mut raw, &mut json] {
        assert_eq!(ws_close_code(ws).await, 1001);
    }
    // Several channels: the first channel to close ends the socket, so a
    // message still queued on another may or may not come first.
    match ws_next(&mut multi).await {
        Message::Text(t) => {
            assert_eq!(serde_json::from_str::<Value>(&t).unwrap(), envelope(&p));
            assert_eq!(ws_close_code(&mut multi).await, 1001);
        }
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected the message or a close, got {other:?}"),
    }
    server.stopped().await;
}
