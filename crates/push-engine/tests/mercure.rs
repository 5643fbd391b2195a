//! The Mercure hub (`push.mercure = On`) over real TCP: publishing with
//! publishers' tokens, subscribing by exact topic, `*` and URI template,
//! public and private updates, the hub's and the publisher's ids, resuming
//! with `Last-Event-ID` (no gap, no duplicate), the loss signal for an id
//! the log no longer holds, refusals and malformed requests.

mod common;

use std::time::Duration;

use common::mercure::*;
use common::*;
use push_engine::auth::token;
use serde_json::{json, Value};

async fn hub(anonymous: bool) -> Server {
    hub_with(|c| {
        c.mercure_anonymous = anonymous;
        // The log's own limit: push.history (100) does not apply to it.
        c.mercure_history = 5;
    })
    .await
}

fn jwt(key: &str, claims: Value) -> String {
    token::sign(key.as_bytes(), claims.to_string().as_bytes())
}

fn publisher() -> String {
    jwt(KEY, json!({"mercure": {"publish": ["*"]}}))
}

fn subscriber(selectors: &[&str]) -> String {
    jwt(SUBSCRIBER_KEY, json!({"mercure": {"subscribe": selectors}}))
}

/// Publishes and returns the update's id.
async fn publish(server: &Server, pairs: &[(&str, &str)]) -> String {
    publish_with(server, &publisher(), pairs).await
}

/// `topic=` query of selectors.
fn topics(selectors: &[&str]) -> String {
    let q: Vec<String> = selectors
        .iter()
        .map(|s| format!("topic={}", enc(s)))
        .collect();
    format!("{HUB}?{}", q.join("&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_is_off_by_default() {
    let server = Server::start_with(|c| c.set("secret", KEY).unwrap()).await;
    assert_eq!(get(server.addr, &topics(&["a"])).await.status, 404);
    let r = post(server.addr, HUB, &[FORM], b"topic=a").await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_update_reaches_its_topics_subscribers_framed() {
    let server = hub(true).await;
    let mut sse = open(&server, &topics(&["https://example.com/books/1"]), &[]).await;
    assert_eq!(sse.header("last-event-id"), Some("earliest"));
    server.wait_subscribers(1).await;
    publish(
        &server,
        &[
            ("topic", "https://example.com/books/2"),
            ("data", "not this"),
        ],
    )
    .await;
    let id = publish(
        &server,
        &[
            ("topic", "https://example.com/books/1"),
            ("data", "line one\nline two"),
            ("type", "update"),
            ("retry", "2500"),
        ],
    )
    .await;
    assert!(id.starts_with("urn:push:"), "{id}");
    let event = sse.event().await;
    assert_eq!(event.id.as_deref(), Some(&*id));
    assert_eq!(event.event.as_deref(), Some("update"));
    assert_eq!(event.data(), "line one\nline two");
    assert_eq!(event.data_lines, 2);
    let text = String::from_utf8_lossy(&sse.raw).into_owned();
    assert!(
        text.ends_with(&format!(
            "id: {id}\nevent: update\nretry: 2500\ndata: line one\ndata: line two\n\n"
        )),
        "{text:?}"
    );
    sse.quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publishers_id_is_kept_and_returned() {
    let server = hub(true).await;
    let mut sse = open(&server, &topics(&["/news"]), &[]).await;
    server.wait_subscribers(1).await;
    let id = publish(
        &server,
        &[("topic", "/news"), ("id", "news-1"), ("data", "x")],
    )
    .await;
    assert_eq!(id, "news-1");
    assert_eq!(sse.event().await.id.as_deref(), Some("news-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_updates_need_a_matching_grant() {
    let server = hub(true).await;
    let selector = "https://example.com/users/{id}";
    let mut anonymous = open(&server, &topics(&[selector]), &[]).await;
    let granted = subscriber(&["https://example.com/users/{id}"]);
    let bearer = format!("Bearer {granted}");
    let mut holder = open(&server, &topics(&[selector]), &[("Authorization", &bearer)]).await;
    let other = subscriber(&["https://example.com/admins/{id}"]);
    let cookie = format!("mercureAuthorization={other}");
    let mut wrong = open(&server, &topics(&[selector]), &[("Cookie", &cookie)]).await;
    let by_query = format!("{}&authorization={granted}", topics(&[selector]));
    let mut queried = open(&server, &by_query, &[]).await;
    server.wait_subscribers(4).await;
    let topic = "https://example.com/users/7";
    publish(
        &server,
        &[("topic", topic), ("data", "secret"), ("private", "on")],
    )
    .await;
    publish(&server, &[("topic", topic), ("data", "public")]).await;
    assert_eq!(holder.event().await.data(), "secret");
    assert_eq!(holder.event().await.data(), "public");
    assert_eq!(queried.event().await.data(), "secret");
    assert_eq!(
        anonymous.event().await.data(),
        "public",
        "no private update"
    );
    assert_eq!(
        wrong.event().await.data(),
        "public",
        "a grant of other topics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_topics_templates_and_all() {
    let server = hub(true).await;
    let mut sse = open(
        &server,
        &topics(&["https://example.com/books/{id}", "/news"]),
        &[],
    )
    .await;
    let mut all = open(&server, &topics(&["*"]), &[]).await;
    server.wait_subscribers(2).await;
    publish(&server, &[("topic", "/other"), ("data", "1")]).await;
    publish(
        &server,
        &[("topic", "https://example.com/books/42"), ("data", "2")],
    )
    .await;
    publish(
        &server,
        &[
            ("topic", "https://example.com/books/42/reviews"),
            ("data", "3"),
        ],
    )
    .await;
    // One update, several topics: delivered once.
    publish(
        &server,
        &[
            ("topic", "/x"),
            ("topic", "/news"),
            ("topic", "https://example.com/books/1"),
            ("data", "4"),
        ],
    )
    .await;
    assert_eq!(sse.event().await.data(), "2");
    assert_eq!(sse.event().await.data(), "4");
    sse.quiet(Duration::from_millis(100)).await;
    for want in ["1", "2", "3", "4"] {
        assert_eq!(all.event().await.data(), want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_resumes_with_no_gap_and_no_duplicate() {
    let server = hub(true).await;
    let path = topics(&["/a", "/b"]);
    let mut sse = open(&server, &path, &[]).await;
    server.wait_subscribers(1).await;
    publish(&server, &[("topic", "/a"), ("data", "1")]).await;
    publish(&server, &[("topic", "/c"), ("data", "skipped")]).await;
    publish(&server, &[("topic", "/b"), ("data", "2"), ("id", "mine-2")]).await;
    assert_eq!(sse.event().await.data(), "1");
    let second = sse.event().await;
    assert_eq!(second.data(), "2");
    drop(sse);
    server.wait_subscribers(0).await;
    publish(&server, &[("topic", "/c"), ("data", "skipped")]).await;
    publish(&server, &[("topic", "/a"), ("data", "3")]).await;
    // By header, as EventSource reconnects: after the publisher's id.
    let last = second.id.unwrap();
    let mut sse = open(&server, &path, &[("Last-Event-ID", &last)]).await;
    assert_eq!(sse.header("last-event-id"), Some(&*last));
    let third = sse.event().await;
    assert_eq!(third.data(), "3");
    publish(&server, &[("topic", "/b"), ("data", "4")]).await;
    assert_eq!(sse.event().await.data(), "4");
    sse.quiet(Duration::from_millis(100)).await;
    drop(sse);
    // By query, after a hub id; and the older Last-Event-ID query.
    let third = third.id.unwrap();
    for key in ["lastEventID", "Last-Event-ID"] {
        let mut sse = open(&server, &format!("{path}&{key}={}", enc(&third)), &[]).await;
        assert_eq!(sse.header("last-event-id"), Some(&*third));
        assert_eq!(sse.event().await.data(), "4");
        sse.quiet(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_no_longer_held_gets_the_loss_signal_then_the_oldest() {
    let server = hub(true).await;
    let first = publish(&server, &[("topic", "/t"), ("data", "0")]).await;
    let mine = publish(&server, &[("topic", "/t"), ("data", "1"), ("id", "mine")]).await;
    for i in 2..8 {
        publish(&server, &[("topic", "/t"), ("data", &i.to_string())]).await;
    }
    // push.mercure_history is 5: 3 to 7 are held.
    for gone in [&*first, &*mine, "never-published", "urn:push:1-1"] {
        let mut sse = open(&server, &topics(&["/t"]), &[("Last-Event-ID", gone)]).await;
        assert_eq!(sse.header("last-event-id"), Some("earliest"), "{gone}");
        let lost = sse.event().await;
        assert_eq!(lost.event.as_deref(), Some("push-lost"), "{gone}: {lost:?}");
        let v: Value = serde_json::from_str(lost.data()).unwrap();
        assert_eq!(v["requested"], gone);
        for want in 3..8 {
            assert_eq!(sse.event().await.data(), want.to_string(), "{gone}");
        }
        sse.quiet(Duration::from_millis(50)).await;
    }
    // earliest: everything held, no loss.
    let mut sse = open(&server, &topics(&["/t"]), &[("Last-Event-ID", "earliest")]).await;
    assert_eq!(sse.header("last-event-id"), Some("earliest"));
    for want in 3..8 {
        assert_eq!(sse.event().await.data(), want.to_string());
    }
    // No id: live, the response names the newest update.
    let newest = publish(&server, &[("topic", "/t"), ("data", "8")]).await;
    let sse = open(&server, &topics(&["/t"]), &[]).await;
    assert_eq!(sse.header("last-event-id"), Some(&*newest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_the_stream_alive() {
    let server = Server::start_with(|c| {
        c.set("mercure", "On").unwrap();
        c.set("secret", KEY).unwrap();
        c.set("mercure_anonymous", "On").unwrap();
        c.set("mercure_heartbeat", "0.1").unwrap();
    })
    .await;
    let mut sse = open(&server, &topics(&["/t"]), &[]).await;
    for _ in 0..2 {
        let item = sse.next_within(Duration::from_secs(1)).await.unwrap();
        assert_eq!(item, Some(SseItem::Comment(String::new())));
    }
    // push.secret signs publishers' tokens when no key of their own is set.
    let token = jwt(KEY, json!({"mercure": {"publish": ["/t"]}}));
    let r = publish_as(&server, &token, &[("topic", "/t"), ("data", "x")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sse.event().await.data(), "x");
}

/// A refusal: its status, and its reason in `WWW-Authenticate`.
fn refused(r: &Response, status: u16, reason: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(reason), "{reason:?} in {challenge:?}");
    assert!(r.text().contains(reason), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_without_a_valid_grant_are_refused() {
    let server = hub(false).await;
    let body = form(&[("topic", "/t"), ("data", "x")]);
    let r = post(server.addr, HUB, &[FORM], &body).await;
    refused(&r, 401, "a publisher token is required");
    let forged = jwt(
        "another-key-of-32-bytes-or-more-0000",
        json!({"mercure": {"publish": ["*"]}}),
    );
    refused(
        &publish_as(&server, &forged, &[("topic", "/t")]).await,
        401,
        "signature",
    );
    let sub_key = jwt(SUBSCRIBER_KEY, json!({"mercure": {"publish": ["*"]}}));
    refused(
        &publish_as(&server, &sub_key, &[("topic", "/t")]).await,
        401,
        "signature",
    );
    let expired = jwt(
        KEY,
        json!({"mercure": {"publish": ["*"]}, "exp": 1_000_000_000}),
    );
    refused(
        &publish_as(&server, &expired, &[("topic", "/t")]).await,
        401,
        "expired",
    );
    let narrow = jwt(KEY, json!({"mercure": {"publish": ["/books/{id}"]}}));
    let ok = publish_as(&server, &narrow, &[("topic", "/books/1")]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let r = publish_as(
        &server,
        &narrow,
        &[("topic", "/books/1"), ("topic", "/admin")],
    )
    .await;
    refused(&r, 403, "does not grant every topic");
    let none = jwt(KEY, json!({"sub": "no mercure claim"}));
    refused(
        &publish_as(&server, &none, &[("topic", "/t")]).await,
        403,
        "does not grant",
    );
    // The cookie, from another origin.
    let cookie = format!("mercureAuthorization={}", publisher());
    let r = post(
        server.addr,
        HUB,
        &[
            ("Cookie", &cookie),
            ("Origin", "https://evil.example"),
            FORM,
        ],
        &body,
    )
    .await;
    assert!(r.status == 403, "{} {}", r.status, r.text());
    let r = post(server.addr, HUB, &[("Cookie", &cookie), FORM], &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_without_a_valid_token_are_refused() {
    let server = hub(false).await;
    let r = get(server.addr, &topics(&["/t"])).await;
    refused(&r, 401, "push.mercure_anonymous is Off");
    let forged = jwt(KEY, json!({"mercure": {"subscribe": ["*"]}}));
    let bearer = format!("Bearer {forged}");
    let r = get_with(server.addr, &topics(&["/t"]), &[("Authorization", &bearer)]).await;
    refused(&r, 401, "signature");
    let r = get(
        server.addr,
        &format!("{}&authorization=x.y.z", topics(&["/t"])),
    )
    .await;
    refused(&r, 401, "not a JWT");
    // A token with no private grant still subscribes to public updates.
    let public = jwt(SUBSCRIBER_KEY, json!({"sub": "42"}));
    let bearer = format!("Bearer {public}");
    let mut sse = open(&server, &topics(&["/t"]), &[("Authorization", &bearer)]).await;
    server.wait_subscribers(1).await;
    publish(
        &server,
        &[("topic", "/t"), ("private", "on"), ("data", "private")],
    )
    .await;
    publish(&server, &[("topic", "/t"), ("data", "public")]).await;
    assert_eq!(sse.event().await.data(), "public");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400_never_500() {
    let server = hub(true).await;
    let token = publisher();
    for (pairs, why) in [
        (&[("data", "no topic")][..], "missing topic"),
        (&[("topic", "/t"), ("retry", "soon")], "retry"),
        (&[("topic", "/t"), ("id", "earliest")], "id must not"),
        (&[("topic", "/t"), ("id", "#x")], "id must not"),
        (&[("topic", "/t"), ("id", "urn:push:1-1")], "id must not"),
        (&[("topic", "/t"), ("type", "a\nb")], "type must not"),
    ] {
        let r = publish_as(&server, &token, pairs).await;
        assert_eq!(r.status, 400, "{pairs:?}: {}", r.text());
        assert!(r.text().contains(why), "{pairs:?}: {}", r.text());
    }
    let auth = format!("Bearer {token}");
    let r = post(
        server.addr,
        HUB,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{\"topic\":\"/t\"}",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("x-www-form-urlencoded"), "{}", r.text());
    // No Content-Type: read as a form.
    let r = post(server.addr, HUB, &[("Authorization", &auth)], b"topic=%2Ft").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        server.addr,
        HUB,
        &[("Authorization", &auth), FORM],
        b"topic=%ZZ&data=%FF%FE",
    )
    .await;
    assert!(
        r.status == 200 || r.status == 400,
        "{} {}",
        r.status,
        r.text()
    );
    let big = "x".repeat(64 * 1024 + 1);
    let r = publish_as(&server, &token, &[("topic", "/t"), ("data", &big)]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let r = get(server.addr, HUB).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("missing topic"));
    // An id that is not UTF-8 is decoded lossily: an unknown id.
    let path = format!("{}&lastEventID=%FF", topics(&["/t"]));
    let mut sse = open(&server, &path, &[]).await;
    assert_eq!(sse.header("last-event-id"), Some("earliest"));
    assert_eq!(sse.event().await.event.as_deref(), Some("push-lost"));
    // A Last-Event-ID header that is not visible ASCII.
    let r = get_with(
        server.addr,
        &topics(&["/t"]),
        &[("Last-Event-ID", "caf\u{e9}")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_not_a_channel_of_push_s_own_doors() {
    let server = hub(true).await;
    publish(
        &server,
        &[("topic", "/t"), ("private", "on"), ("data", "secret")],
    )
    .await;
    for path in [
        "/sse/.push/mercure",
        "/poll/.push/mercure?timeout=0",
        "/sse?channel=.push/mercure",
    ] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(r.text().contains("reserved"), "{path}: {}", r.text());
    }
    let r = post(server.addr, "/publish/.push/mercure", &[], b"{}\nforged").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(server
        .hub
        .publish(".push/mercure", push_engine::Outgoing::new("x"))
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_token_expires() {
    let server = Server::start_with(|c| {
        c.set("mercure", "On").unwrap();
        c.set("secret", KEY).unwrap();
        c.set("token_leeway", "0").unwrap();
    })
    .await;
    let exp = token::now() + 1.0;
    let jwt = jwt(KEY, json!({"mercure": {"subscribe": ["*"]}, "exp": exp}));
    let bearer = format!("Bearer {jwt}");
    let mut sse = open(&server, &topics(&["/t"]), &[("Authorization", &bearer)]).await;
    server.wait_subscribers(1).await;
    let r = publish_as(
        &server,
        &publisher(),
        &[("topic", "/t"), ("private", "on"), ("data", "before")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sse.event().await.data(), "before");
    let started = std::time::Instant::now();
    sse.end().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.wait_subscribers(0).await;
}
