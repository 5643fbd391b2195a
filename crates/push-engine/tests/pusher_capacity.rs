//! Pusher connections in the metrics (their own `pusher` transport
//! label), and an engine at `push.max_connections` refusing a new Pusher
//! socket in the protocol's terms: `pusher:error` and close 4100, which
//! pusher-js backs off from, instead of refusing the HTTP upgrade.

mod common;

use std::time::{Duration, Instant};

use common::metrics::{connections, scrape, value};
use common::pusher::*;
use common::*;
use push_engine::metrics::Limit;
use serde_json::json;

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < T, "not {what} after {T:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_connections_and_deliveries_have_their_own_label() {
    let server = start().await;
    let (mut a, _) = connect(&server).await;
    subscribed(&mut a, "news").await;
    let _plain = ws_open(server.addr, "/ws/news").await;
    server.wait_subscribers(2).await;
    let text = scrape(&server).await;
    assert_eq!(connections(&text, "pusher"), 1.0);
    assert_eq!(connections(&text, "ws"), 1.0);
    assert_eq!(server.hub.engine_stats().connections.pusher, 1);

    server.publish_event("news", "e", "1");
    assert_eq!(next(&mut a).await["data"], "1");
    let m = server.hub.metrics().clone();
    until("delivered", || {
        m.deliveries(push_engine::metrics::Transport::Pusher) == 1
    })
    .await;
    let text = scrape(&server).await;
    assert_eq!(
        value(&text, "push_deliveries_total{transport=\"pusher\"}"),
        1.0
    );

    drop(a);
    until("counted out", || {
        m.connections(push_engine::metrics::Transport::Pusher) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_connections_a_pusher_socket_is_closed_4100() {
    let server = Server::start_with(|c| {
        pusher_settings(c);
        c.max_connections = 2;
    })
    .await;
    let m = server.hub.metrics().clone();
    let (mut a, _) = connect(&server).await;
    let (mut b, _) = connect(&server).await;
    until("2 open", || m.listen_connections() == 2).await;

    // The third: upgraded, told, closed with 4100 (pusher-js backs off).
    let mut c = ws_open(server.addr, &path()).await;
    let e = next(&mut c).await;
    assert_eq!(e["event"], "pusher:error", "{e}");
    assert_eq!(e["data"]["code"], 4100);
    assert!(e["data"]["message"]
        .as_str()
        .is_some_and(|t| t.contains("push.max_connections (2)")));
    assert_eq!(ws_close_code(&mut c).await, 4100);
    // Anything else is answered 503, as with the protocol off.
    let r = get(server.addr, "/health").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "error": "too many connections: push.max_connections (2) are open" })
    );
    assert_eq!(
        ws_refused(server.addr, "/ws/news").await.0,
        503,
        "push's own WebSocket"
    );
    assert_eq!(m.refusals(Limit::Connections), 3);
    assert_eq!(m.listen_connections(), 2, "refused ones are not counted");

    // The two served go on; once one leaves, a new one is served.
    send(&mut a, json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(next(&mut a).await["event"], "pusher:pong");
    let _ = b.close(None).await;
    until("1 open", || m.listen_connections() == 1).await;
    let (mut d, _) = connect(&server).await;
    subscribed(&mut d, "news").await;
}
