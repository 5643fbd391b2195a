//! Long-poll over real TCP: answers from history at once, waits for the
//! next publication, timeouts and their cap, loss, batches bounded in bytes,
//! refusals, and shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use push_engine::Id;
use serde_json::{json, Value};

/// `GET path`, which must answer 200 with JSON; returns it and how long it took.
async fn poll(server: &Server, path: &str) -> (Value, Duration) {
    let started = Instant::now();
    let r = get(server.addr, path).await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    (r.json(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_inside_history_answers_at_once() {
    let server = Server::start().await;
    let sent: Vec<_> = (1..=4)
        .map(|i| server.publish("p", format!("m{i}")))
        .collect();
    let bin = server.publish_event("p", "blob", vec![0xffu8, 0]);
    let (v, took) = poll(&server, &format!("/poll/p?since={}&timeout=10", sent[1].id)).await;
    assert!(
        took < Duration::from_secs(1),
        "answered at once, took {took:?}"
    );
    assert_eq!(
        v,
        json!({
            "channel": "p",
            "cursor": bin.id.to_string(),
            "lost": false,
            "messages": [envelope(&sent[2]), envelope(&sent[3]), envelope(&bin)],
        })
    );
    assert_eq!(v["messages"][2]["encoding"], "base64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_the_newest_waits_for_the_next_publication() {
    let server = Server::start().await;
    let newest = server.publish("p", "old");
    let hub = server.hub.clone();
    let publisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        hub.publish("p", push_engine::Outgoing::new("new").event("fresh"))
            .unwrap()
    });
    let (v, took) = poll(&server, &format!("/poll/p?since={}&timeout=2", newest.id)).await;
    let p = publisher.await.unwrap();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "answered when published, not at the timeout: {took:?}"
    );
    assert_eq!(
        v,
        json!({"channel": "p", "cursor": p.id.to_string(), "lost": false, "messages": [envelope(&p)]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_since_waits_for_the_next_publication() {
    let server = Server::start().await;
    server.publish("p", "before");
    let addr = server.addr;
    let request = tokio::spawn(async move {
        let started = Instant::now();
        let r = get(addr, "/poll/p?timeout=3").await;
        (r, started.elapsed())
    });
    server.wait_subscribers(1).await;
    let p = server.publish("p", "after");
    let (r, took) = request.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        r.json(),
        json!({"channel": "p", "cursor": p.id.to_string(), "lost": false, "messages": [envelope(&p)]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_answers_nothing_with_the_same_cursor() {
    let server = Server::start().await;
    let newest = server.publish("p", "old");
    let (v, took) = poll(&server, &format!("/poll/p?since={}&timeout=0.3", newest.id)).await;
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(
        v,
        json!({"channel": "p", "cursor": newest.id.to_string(), "lost": false, "messages": []})
    );

    // timeout=0 answers at once; no since on a new channel: its start.
    let (v, took) = poll(&server, "/poll/fresh?timeout=0").await;
    assert!(took < Duration::from_millis(500), "{took:?}");
    let start = server.hub.last_id("fresh").unwrap();
    assert_eq!(start.offset, 0);
    assert_eq!(
        v,
        json!({"channel": "fresh", "cursor": start.to_string(), "lost": false, "messages": []})
    );
    // The cursor of an empty answer resumes with nothing missed.
    let p = server.publish("fresh", "first");
    let (v, _) = poll(&server, &format!("/poll/fresh?since={start}&timeout=0")).await;
    assert_eq!(v["messages"], json!([envelope(&p)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_is_capped_by_poll_timeout() {
    let server = Server::start_with(|c| c.poll_timeout = Duration::from_millis(400)).await;
    let newest = server.publish("p", "old");
    for path in [
        format!("/poll/p?since={}&timeout=30", newest.id),
        format!("/poll/p?since={}", newest.id),
    ] {
        let (v, took) = poll(&server, &path).await;
        assert!(
            took >= Duration::from_millis(380) && took < Duration::from_millis(1500),
            "{path}: {took:?}"
        );
        assert_eq!(v["messages"], json!([]));
        assert_eq!(v["cursor"], newest.id.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_cursor_says_so_and_answers_from_the_oldest_held() {
    let server = Server::start_with(|c| c.history = 3).await;
    let sent: Vec<_> = (1..=6)
        .map(|i| server.publish("p", format!("m{i}")))
        .collect();
    let (v, took) = poll(&server, &format!("/poll/p?since={}&timeout=5", sent[0].id)).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        v,
        json!({
            "channel": "p",
            "cursor": sent[5].id.to_string(),
            "lost": true,
            "messages": [envelope(&sent[3]), envelope(&sent[4]), envelope(&sent[5])],
        })
    );
    // Another epoch, or an id never given out, is lost too.
    let future = Id {
        offset: 99,
        ..sent[5].id
    };
    for since in ["1-1".to_owned(), future.to_string()] {
        let (v, _) = poll(&server, &format!("/poll/p?since={since}&timeout=0")).await;
        assert_eq!(v["lost"], true, "{since}");
        assert_eq!(v["messages"].as_array().unwrap().len(), 3, "{since}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_comes_in_batches_bounded_by_max_queue_bytes() {
    let server = Server::start_with(|c| {
        c.max_message_size = 1000;
        c.max_queue_bytes = 4096;
    })
    .await;
    let sent: Vec<_> = (0..12)
        .map(|i| server.publish("p", format!("{i:02}{}", "x".repeat(998))))
        .collect();
    let start = Id {
        offset: 0,
        ..sent[0].id
    };
    let mut since = start.to_string();
    let mut got = Vec::new();
    let mut batches = Vec::new();
    while got.len() < sent.len() {
        let (v, _) = poll(&server, &format!("/poll/p?since={since}&timeout=1")).await;
        let messages = v["messages"].as_array().unwrap().clone();
        assert!(!messages.is_empty());
        batches.push(messages.len());
        since = v["cursor"].as_str().unwrap().to_owned();
        assert_eq!(since, messages.last().unwrap()["id"].as_str().unwrap());
        got.extend(messages);
    }
    // A batch stops at the message that reaches 4096 bytes: 5 of 1000.
    assert_eq!(batches, [5, 5, 2]);
    assert_eq!(got, sent.iter().map(|p| envelope(p)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_refused_with_400() {
    let server = Server::start().await;
    for path in [
        "/poll/p?since=nope",
        "/poll/p?since=G-1",
        "/poll/p?since=1-",
        "/poll/p?timeout=abc",
        "/poll/p?timeout=-1",
        "/poll/p?timeout=NaN",
        "/poll/p?timeout=inf",
        "/poll/p?timeout=",
        "/poll/bad*name",
        "/poll/a%20b",
    ] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{path}");
    }
    // An empty since is no since.
    let (v, took) = poll(&server, "/poll/p?since=&timeout=0").await;
    assert!(took < Duration::from_millis(500));
    assert_eq!(v["messages"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_is_unsubscribed_at_once() {
    let server = Server::start_with(|c| c.poll_timeout = Duration::from_secs(30)).await;
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut socket, "GET", "/poll/p?timeout=30", &[], b"").await;
    server.wait_subscribers(1).await;
    drop(socket);
    server.wait_subscribers(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_pending_polls() {
    let mut server = Server::start().await;
    let newest = server.publish("p", "old");
    let addr = server.addr;
    let path = format!("/poll/p?since={}&timeout=30", newest.id);
    let pending: Vec<_> = (0..3)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                (get(addr, &path).await, started.elapsed())
            })
        })
        .collect();
    server.wait_subscribers(3).await;
    let started = Instant::now();
    server.begin_shutdown();
    for request in pending {
        let (r, _) = request.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json(),
            json!({"channel": "p", "cursor": newest.id.to_string(), "lost": false, "messages": []})
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered at shutdown: {:?}",
        started.elapsed()
    );
    server.stopped().await;
}
