//! Server-Sent Events over real TCP: headers and framing, multi-line and
//! binary data, keep-alive comments, resuming by header and query, loss,
//! composite cursors of several channels. Refused requests, clients going
//! away, slow consumers and shutdown: `sse_endings.rs`.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_has_its_headers_a_retry_then_events_with_ids() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/news", &[]).await;
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse.header("cache-control"), Some("no-cache"));
    assert_eq!(sse.header("x-accel-buffering"), Some("no"));
    assert_eq!(
        sse.next().await,
        Some(SseItem::Retry(1500)),
        "retry: push.reconnect_delay in ms, first"
    );

    let plain = server.publish("news", "hello");
    let named = server.publish_event("news", "update", "héllo wörld");
    assert_eq!(sse.event().await, expected(&plain));
    assert_eq!(sse.event().await, expected(&named));
    assert_eq!(
        String::from_utf8(sse.raw.clone()).unwrap(),
        format!(
            "retry: 1500\n\nid: {}\ndata: hello\n\nid: {}\nevent: update\ndata: héllo wörld\n\n",
            plain.id, named.id
        ),
        "the exact bytes"
    );
    sse.quiet(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_line_data_arrives_as_several_data_lines() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/lines", &[]).await;
    let cases = [
        ("one\ntwo", 2),
        ("one\r\ntwo\r\nthree", 3),
        ("one\rtwo", 2),
        ("mixed\r\ncr\rlf\nend", 4),
        ("trailing\n", 2),
        ("a\r\n", 2),
        ("\n\nblank lines\n\n", 5),
        (" leading space", 1),
        ("data: inside", 1),
        (": not a comment\nid: not an id", 2),
        ("", 1),
    ];
    for (data, _) in &cases {
        server.publish("lines", *data);
    }
    for (data, lines) in cases {
        let event = sse.event().await;
        assert_eq!(event.data_lines, lines, "{data:?}: {event:?}");
        // SSE has one line break: CRLF and CR come back as LF.
        let normalized = data.replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(event.data(), normalized, "{data:?}");
        if !data.contains('\r') {
            assert_eq!(event.data(), data, "parses back to the original");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_trailing_cr_is_kept() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/cr", &[]).await;
    let p = server.publish("cr", "a\r");
    let q = server.publish("cr", "b\r\r");
    assert_eq!(
        sse.event().await.data(),
        "a\n",
        "{:?}",
        String::from_utf8_lossy(&p.sse().rest)
    );
    assert_eq!(
        sse.event().await.data(),
        "b\n\n",
        "{:?}",
        String::from_utf8_lossy(&q.sse().rest)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_data_is_base64() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse/bin", &[]).await;
    let bytes = vec![0u8, 1, 2, 0xff, 0xfe, b'\n', b'\r', 0x80];
    let p = server.publish_event("bin", "blob", bytes.clone());
    let event = sse.event().await;
    assert_eq!(event, expected(&p));
    assert_eq!(event.data_lines, 1);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(event.data())
            .unwrap(),
        bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_comments_arrive_every_keepalive() {
    let server = Server::start_with(|c| c.keepalive = Duration::from_millis(200)).await;
    let mut sse = sse_open(server.addr, "/sse/quiet", &[]).await;
    assert_eq!(sse.next().await, Some(SseItem::Retry(1500)));
    let started = Instant::now();
    let mut comments = Vec::new();
    while started.elapsed() < Duration::from_millis(1100) {
        match sse.next_within(Duration::from_millis(100)).await {
            Err(_) => {}
            Ok(Some(SseItem::Comment(c))) => {
                assert_eq!(c, "");
                comments.push(started.elapsed());
            }
            Ok(other) => panic!("expected comments only, got {other:?}"),
        }
    }
    assert!(
        (4..=6).contains(&comments.len()),
        "comments at {comments:?}"
    );
    for pair in comments.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(100) && gap <= Duration::from_millis(400),
            "comments at {comments:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_by_header_or_query_has_no_gap_and_no_duplicate() {
    let server = Server::start().await;
    let sent: Vec<_> = (1..=5)
        .map(|i| server.publish("r", format!("m{i}")))
        .collect();
    let by_header = sse_open(
        server.addr,
        "/sse/r",
        &[("Last-Event-ID", &sent[1].id.to_string())],
    )
    .await;
    let by_query = sse_open(
        server.addr,
        &format!("/sse/r?lastEventId={}", sent[1].id),
        &[],
    )
    .await;
    let mut streams = [by_header, by_query];
    for sse in &mut streams {
        for p in &sent[2..] {
            assert_eq!(sse.event().await, expected(p));
        }
    }
    let live = server.publish("r", "m6");
    for sse in &mut streams {
        assert_eq!(sse.event().await, expected(&live));
        sse.quiet(Duration::from_millis(150)).await;
    }

    // Reconnecting with the last id seen, as EventSource does, continues
    // exactly after it however many were published in between.
    drop(streams);
    let missed: Vec<_> = (7..=9)
        .map(|i| server.publish("r", format!("m{i}")))
        .collect();
    let mut again = sse_open(
        server.addr,
        "/sse/r",
        &[("Last-Event-ID", &live.id.to_string())],
    )
    .await;
    for p in &missed {
        assert_eq!(again.event().await, expected(p));
    }
    again.quiet(Duration::from_millis(150)).await;
    // An empty Last-Event-ID is no cursor.
    let mut fresh = sse_open(server.addr, "/sse/r", &[("Last-Event-ID", "")]).await;
    fresh.quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_cursor_sends_push_lost_then_the_oldest_held() {
    let server = Server::start_with(|c| c.history = 3).await;
    let sent: Vec<_> = (1..=6)
        .map(|i| server.publish("l", format!("m{i}")))
        .collect();
    let mut sse = sse_open(
        server.addr,
        "/sse/l",
        &[("Last-Event-ID", &sent[0].id.to_string())],
    )
    .await;
    let lost = sse.event().await;
    assert_eq!(lost.event.as_deref(), Some("push-lost"));
    assert_eq!(lost.id, None, "a loss report moves no cursor");
    let data: Value = serde_json::from_str(lost.data()).unwrap();
    assert_eq!(
        data,
        json!({"channel": "l", "requested": sent[0].id.to_string(), "oldest": sent[3].id.to_string()})
    );
    for p in &sent[3..] {
        assert_eq!(sse.event().await, expected(p));
    }
    let live = server.publish("l", "m7");
    assert_eq!(sse.event().await, expected(&live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_share_a_composite_id_that_resumes_them_all() {
    let server = Server::start().await;
    let mut sse = sse_open(server.addr, "/sse?channel=a&channel=b", &[]).await;
    let b0 = server.hub.last_id("b").expect("b exists once subscribed");
    let a1 = server.publish("a", "a1");
    let event = sse.event().await;
    assert_eq!(event.id, Some(format!("a={},b={b0}", a1.id)));
    assert_eq!(event.data(), "a1");
    let b1 = server.publish_event("b", "tick", "b1");
    let event = sse.event().await;
    assert_eq!(event.id, Some(format!("a={},b={}", a1.id, b1.id)));
    assert_eq!((event.event.as_deref(), event.data()), (Some("tick"), "b1"));
    let cursor = event.id.unwrap();
    drop(sse);

    // Missed while away, on both channels.
    let a2 = server.publish("a", "a2");
    let b2 = server.publish("b", "b2");
    let a3 = server.publish("a", "a3");
    let mut sse = sse_open(
        server.addr,
        "/sse?channel=a&channel=b",
        &[("Last-Event-ID", &cursor)],
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let e = sse.event().await;
        got.push((e.data().to_owned(), e.id.unwrap()));
    }
    // Each channel in order; the two channels may interleave either way.
    let datas: Vec<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    let of = |prefix: char| {
        datas
            .iter()
            .filter(|d| d.starts_with(prefix))
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(of('a'), ["a2", "a3"], "{got:?}");
    assert_eq!(of('b'), ["b2"], "{got:?}");
    // Each id is the composite of the positions after that event.
    let mut positions = (a1.id, b1.id);
    for (data, id) in &got {
        let p = [&a2, &b2, &a3]
            .into_iter()
            .find(|p| p.data == data.as_bytes())
            .unwrap();
        match &*p.channel {
            "a" => positions.0 = p.id,
            _ => positions.1 = p.id,
        }
        assert_eq!(
            *id,
            format!("a={},b={}", positions.0, positions.1),
            "{got:?}"
        );
    }
    sse.quiet(Duration::from_millis(150)).await;
    let b3 = server.publish("b", "b3");
    let event = sse.event().await;
    assert_eq!(event.id, Some(format!("a={},b={}", a3.id, b3.id)));

    // A single id cannot resume several channels.
    let refused = get_with(
        server.addr,
        "/sse?channel=a&channel=b",
        &[("Last-Event-ID", &a1.id.to_string())],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
}
