//! The Pusher HTTP API (`/apps/{app_id}/…`), signed as Pusher's server
//! libraries sign, against a real server: publishing to Pusher and push
//! subscribers, `socket_id` exclusion, batches, channel queries, and every
//! refusal as a JSON error (never a 500).

mod common;

use std::time::Duration;

use common::pusher::*;
use common::*;
use futures_util::SinkExt;
use push_engine::auth::signature::sign_hex;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

async fn pusher_ws(server: &Server, channel: &str) -> (Ws, String) {
    let mut ws = ws_open(server.addr, &format!("/app/{KEY}?protocol=7")).await;
    let hello = ws_json(&mut ws).await;
    let data: Value = serde_json::from_str(hello["data"].as_str().unwrap()).unwrap();
    let id = data["socket_id"].as_str().unwrap().to_owned();
    let mut sub = json!({ "channel": channel });
    if channel.starts_with("presence-") {
        let cd = json!({ "user_id": id.clone() }).to_string();
        let sig = sign_hex(SECRET.as_bytes(), format!("{id}:{channel}:{cd}").as_bytes());
        sub["auth"] = format!("{KEY}:{sig}").into();
        sub["channel_data"] = cd.into();
    }
    ws.send(Message::Text(
        json!({ "event": "pusher:subscribe", "data": sub })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ws_json(&mut ws).await["event"],
        "pusher_internal:subscription_succeeded"
    );
    (ws, id)
}

#[tokio::test]
async fn events_reach_every_door_except_the_socket_id() {
    let server = start().await;
    let (mut a, a_id) = pusher_ws(&server, "orders").await;
    let (mut b, _) = pusher_ws(&server, "orders").await;
    let (mut other, _) = pusher_ws(&server, "other").await;
    let mut sse = sse_open(server.addr, "/sse/orders", &[]).await;
    server.wait_subscribers(4).await;

    let r = post_signed(
        &server,
        "events",
        &json!({ "name": "shipped", "channels": ["orders", "other"], "data": "{\"id\":1}" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({}));
    for ws in [&mut a, &mut b, &mut other] {
        let m = ws_json(ws).await;
        assert_eq!(m["event"], "shipped");
        assert_eq!(m["data"], "{\"id\":1}");
    }
    let e = sse.event().await;
    assert_eq!(
        (e.event.as_deref(), e.data()),
        (Some("shipped"), "{\"id\":1}")
    );

    // socket_id: everyone but that connection (Laravel's toOthers()).
    let r = post_signed(
        &server,
        "events",
        &json!({ "name": "n", "channel": "orders", "data": "2", "socket_id": a_id }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ws_json(&mut b).await["data"], "2");
    assert_eq!(sse.event().await.data(), "2");
    ws_quiet(&mut a, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn batch_events_and_info() {
    let server = start().await;
    let (mut p, _) = pusher_ws(&server, "presence-room").await;
    let (mut q, _) = pusher_ws(&server, "public").await;
    server.wait_subscribers(2).await;
    let r = post_signed(
        &server,
        "batch_events",
        &json!({ "batch": [
            { "name": "a", "channel": "presence-room", "data": "1", "info": "user_count,subscription_count" },
            { "name": "b", "channel": "public", "data": "2" },
        ] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "batch": [ { "user_count": 1, "subscription_count": 1 }, {} ] })
    );
    assert_eq!(ws_json(&mut p).await["event"], "a");
    assert_eq!(ws_json(&mut q).await["event"], "b");

    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({ "name": "x", "channel": "c", "data": i.to_string() }))
        .collect();
    let r = post_signed(&server, "batch_events", &json!({ "batch": eleven })).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn channel_queries() {
    let server = start().await;
    let (_p1, _) = pusher_ws(&server, "presence-room").await;
    let (_p2, _) = pusher_ws(&server, "presence-room").await;
    let (_a, _) = pusher_ws(&server, "news").await;
    server.wait_subscribers(3).await;

    let r = get_signed(&server, "channels", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "channels": { "news": {}, "presence-room": {} } })
    );
    let r = get_signed(
        &server,
        "channels",
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "channels": { "presence-room": { "user_count": 2 } } })
    );
    let r = get_signed(&server, "channels", &[("info", "user_count")]).await;
    assert_eq!(r.status, 400);

    let r = get_signed(
        &server,
        "channels/presence-room",
        &[("info", "user_count,subscription_count")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "occupied": true, "user_count": 2, "subscription_count": 2 })
    );
    let r = get_signed(&server, "channels/empty", &[]).await;
    assert_eq!(r.json(), json!({ "occupied": false }));

    let r = get_signed(&server, "channels/presence-room/users", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["users"].as_array().unwrap().len(), 2);
    let r = get_signed(&server, "channels/news/users", &[]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn refusals_are_json_errors_never_500() {
    let server = start().await;
    let path = format!("/apps/{APP_ID}/events");
    let body = json!({ "name": "n", "channel": "c", "data": "d" }).to_string();
    let ok = signed("POST", &path, body.as_bytes(), &[], now());
    let cases: Vec<(String, String, u16)> = vec![
        ("unsigned".into(), path.to_string(), 401),
        (
            "bad signature".into(),
            format!(
                "{}{}",
                &ok[..ok.len() - 1],
                if ok.ends_with('0') { "1" } else { "0" }
            ),
            401,
        ),
        (
            "old timestamp".into(),
            signed("POST", &path, body.as_bytes(), &[], now() - 700),
            401,
        ),
        (
            "future timestamp".into(),
            signed("POST", &path, body.as_bytes(), &[], now() + 700),
            401,
        ),
        (
            "body_md5 of another body".into(),
            signed("POST", &path, b"{}", &[], now()),
            401,
        ),
        (
            "signed for another path".into(),
            signed(
                "POST",
                "/apps/1234/batch_events",
                body.as_bytes(),
                &[],
                now(),
            ),
            401,
        ),
        (
            "NaN timestamp".into(),
            ok.replace(&format!("auth_timestamp={}", now()), "auth_timestamp=NaN"),
            401,
        ),
    ]
    .into_iter()
    .map(|(label, q, status)| {
        let q = q
            .strip_prefix(path.as_str())
            .map(str::to_owned)
            .unwrap_or(q);
        (label, format!("{path}?{q}"), status)
    })
    .collect();
    for (label, url, status) in cases {
        let r = post(server.addr, &url, &[], body.as_bytes()).await;
        assert_eq!(r.status, status, "{label}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{label}");
    }

    // Another app id: 404.
    let other = "/apps/999/events";
    let q = signed("POST", other, body.as_bytes(), &[], now());
    let r = post(server.addr, &format!("{other}?{q}"), &[], body.as_bytes()).await;
    assert_eq!(r.status, 404);

    // Well signed, but wrong inside: 400 and 413.
    let hundred_and_one: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    for (label, body, status) in [
        ("not JSON", json!("x"), 400),
        ("no channel", json!({ "name": "n", "data": "d" }), 400),
        (
            "both",
            json!({ "name": "n", "data": "d", "channel": "a", "channels": ["b"] }),
            400,
        ),
        (
            "101 channels",
            json!({ "name": "n", "data": "d", "channels": hundred_and_one }),
            400,
        ),
        (
            "bad channel",
            json!({ "name": "n", "data": "d", "channel": "a b" }),
            400,
        ),
        (
            "long event",
            json!({ "name": "e".repeat(201), "data": "d", "channel": "a" }),
            400,
        ),
        (
            "reserved event",
            json!({ "name": "pusher:x", "data": "d", "channel": "a" }),
            400,
        ),
        (
            "data not a string",
            json!({ "name": "n", "data": {}, "channel": "a" }),
            400,
        ),
        (
            "bad socket_id",
            json!({ "name": "n", "data": "d", "channel": "a", "socket_id": "x" }),
            400,
        ),
        (
            "data too large",
            json!({ "name": "n", "data": "d".repeat(65 * 1024), "channel": "a" }),
            413,
        ),
    ] {
        let r = post_signed(&server, "events", &body).await;
        assert_eq!(r.status, status, "{label}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{label}");
    }
    assert_eq!(server.hub.stats().publications, 0, "nothing was published");
}

#[tokio::test]
async fn malformed_requests_to_the_pusher_doors_are_json_errors() {
    let server = start().await;
    // Not an upgrade, or a bad one: 426 / 400, as push's own WebSocket.
    let r = get(server.addr, &format!("/app/{KEY}?protocol=7")).await;
    assert_eq!(r.status, 426, "{}", r.text());
    assert!(r.json()["error"].is_string());
    // A body over the limit: 413 before it is read.
    let huge = vec![b'x'; 200 * 1024];
    let path = format!("/apps/{APP_ID}/events");
    let r = post(server.addr, &format!("{path}?auth_key={KEY}"), &[], &huge).await;
    assert_eq!(r.status, 413, "{}", r.text());
    // A channel name Pusher does not allow, well signed.
    let r = get_signed(&server, "channels/a%20b", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // A path signed unencoded and sent encoded (`,` as %2C) is accepted.
    let (mut ws, _) = pusher_ws(&server, "a,b").await;
    let signed_path = format!("/apps/{APP_ID}/channels/a,b");
    let q = signed("GET", &signed_path, b"", &[], now());
    let r = get(server.addr, &format!("/apps/{APP_ID}/channels/a%2Cb?{q}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "occupied": true }));
    ws_quiet(&mut ws, Duration::from_millis(10)).await;
    // Routes that do not exist stay 404 with JSON.
    let r = get_signed(&server, "nothing", &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    // GET on a POST route: not a 500.
    let r = get_signed(&server, "events", &[]).await;
    assert!(r.status == 405 || r.status == 404, "{}", r.status);
}
