//! The Mercure hub's 1.0 dialect (draft-08) over real TCP, beside the
//! classic one on the same hub: `match` / `matchExact` / `matchURLPattern`
//! subscriptions, `at+jwt` access tokens with `authorization_details`
//! (`iss`, `aud`, `exp` checked) in the header, the `access_token` query
//! and the cookies, resuming with `Mercure-Last-Event-ID` and
//! `last_event_id`, RFC 6750 refusals (`invalid_token`,
//! `insufficient_scope`, none without a token, `invalid_request`). The
//! metadata document and CORS: `mercure_cors.rs`.

mod common;

use std::time::Duration;

use common::mercure::*;
use common::*;
use push_engine::auth::token;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_and_url_pattern_subscriptions_get_their_updates() {
    let server = hub_with(|_| {}).await;
    let path = query(&[
        ("match", "https://example.com/news"),
        ("matchURLPattern", "https://example.com/books/:id"),
        ("matchExact", "/relative/{id}"),
    ]);
    let mut sse = open(&server, &path, &[]).await;
    // The classic dialect on the same hub: a URI template.
    let mut classic = open(
        &server,
        &query(&[("topic", "https://example.com/books/{id}")]),
        &[],
    )
    .await;
    server.wait_subscribers(2).await;
    publish(
        &server,
        &[
            ("topic", "https://example.com/books/1/chapters"),
            ("data", "no"),
        ],
    )
    .await;
    publish(
        &server,
        &[("topic", "https://example.com/newsx"), ("data", "no")],
    )
    .await;
    publish(
        &server,
        &[("topic", "/relative/1"), ("data", "no: match is exact")],
    )
    .await;
    let a = publish(
        &server,
        &[("topic", "https://example.com/books/7"), ("data", "book")],
    )
    .await;
    let b = publish(
        &server,
        &[("topic", "https://example.com/news"), ("data", "news")],
    )
    .await;
    let c = publish(&server, &[("topic", "/relative/{id}"), ("data", "exact")]).await;
    for (id, data) in [(&a, "book"), (&b, "news"), (&c, "exact")] {
        let e = sse.event().await;
        assert_eq!((e.id.as_deref(), e.data()), (Some(&**id), data));
    }
    sse.quiet(Duration::from_millis(100)).await;
    let e = classic.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(&*a), "book"));
    // The match_exact / match_urlpattern spellings work as well.
    let path = query(&[("match_urlpattern", "/relative/:id"), ("match_exact", "x")]);
    let mut spelt = open(&server, &format!("{path}&lastEventID={b}"), &[]).await;
    let e = spelt.event().await;
    assert_eq!(
        e.data(),
        "exact",
        "a relative pattern matches a relative topic"
    );
    spelt.quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_updates_follow_the_authorization_details() {
    let server = hub_with(|_| {}).await;
    let details = json!([
        {"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "https://example.com/books/1"}]},
        {"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "https://example.com/users/:id/inbox", "matchType": "URLPattern"}]}
    ]);
    let token = access_token(SUBSCRIBER_KEY, &claims(details));
    let routing = query(&[
        ("matchURLPattern", "https://example.com/books/:id"),
        ("matchURLPattern", "https://example.com/users/:id/inbox"),
    ]);
    let bearer = format!("Bearer {token}");
    let cookie_v1 = format!("mercureAccessToken={token}");
    let cookie_secure = format!("__Secure-mercure_access_token={token}");
    let mut subscribers = vec![
        open(&server, &routing, &[("Authorization", &bearer)]).await,
        open(&server, &format!("{routing}&access_token={token}"), &[]).await,
        open(&server, &routing, &[("Cookie", &cookie_v1)]).await,
        open(&server, &routing, &[("Cookie", &cookie_secure)]).await,
    ];
    let mut anonymous = open(&server, &routing, &[]).await;
    server.wait_subscribers(5).await;
    publish(
        &server,
        &[
            ("topic", "https://example.com/books/2"),
            ("private", ""),
            ("data", "not granted"),
        ],
    )
    .await;
    let one = publish(
        &server,
        &[
            ("topic", "https://example.com/books/1"),
            ("private", "on"),
            ("data", "book 1"),
        ],
    )
    .await;
    let inbox = publish(
        &server,
        &[
            ("topic", "https://example.com/users/9/inbox"),
            ("private", "on"),
            ("data", "inbox"),
        ],
    )
    .await;
    let public = publish(
        &server,
        &[("topic", "https://example.com/books/2"), ("data", "public")],
    )
    .await;
    for sse in &mut subscribers {
        for (id, data) in [(&one, "book 1"), (&inbox, "inbox"), (&public, "public")] {
            let e = sse.event().await;
            assert_eq!((e.id.as_deref(), e.data()), (Some(&**id), data));
        }
    }
    let e = anonymous.event().await;
    assert_eq!((e.id.as_deref(), e.data()), (Some(&*public), "public"));
    anonymous.quiet(Duration::from_millis(100)).await;
    // Resuming replays under the same grants.
    let mut again = open(
        &server,
        &format!("{routing}&lastEventID=earliest"),
        &[("Authorization", &bearer)],
    )
    .await;
    for data in ["book 1", "inbox", "public"] {
        assert_eq!(again.event().await.data(), data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_1_0_resume_names_continue_after_the_id() {
    let server = hub_with(|_| {}).await;
    let path = query(&[("match", "/t")]);
    let first = publish(&server, &[("topic", "/t"), ("data", "1")]).await;
    publish(
        &server,
        &[("topic", "/t"), ("data", "2"), ("id", "publisher-2")],
    )
    .await;
    let mut header = open(&server, &path, &[("Mercure-Last-Event-ID", &first)]).await;
    assert_eq!(header.header("last-event-id"), Some(&*first));
    assert_eq!(header.event().await.data(), "2");
    let mut by_query = open(&server, &format!("{path}&last_event_id={first}"), &[]).await;
    assert_eq!(by_query.event().await.data(), "2");
    let mut publisher_id = open(&server, &format!("{path}&lastEventID=publisher-2"), &[]).await;
    assert_eq!(publisher_id.header("last-event-id"), Some("publisher-2"));
    publisher_id.quiet(Duration::from_millis(100)).await;
    // Last-Event-ID (the browser's) wins over the query.
    let mut both = open(
        &server,
        &format!("{path}&lastEventID=publisher-2"),
        &[("Last-Event-ID", &first)],
    )
    .await;
    assert_eq!(both.event().await.data(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_last_event_id_names_no_update_the_subscriber_cannot_read() {
    let server = hub_with(|_| {}).await;
    let path = query(&[("match", "/t")]);
    let public = publish(&server, &[("topic", "/t"), ("data", "public")]).await;
    let anonymous = open(&server, &path, &[]).await;
    assert_eq!(anonymous.header("last-event-id"), Some(&*public));
    let private = publish(
        &server,
        &[("topic", "/t"), ("private", "on"), ("data", "private")],
    )
    .await;
    let anonymous = open(&server, &path, &[]).await;
    assert_eq!(anonymous.header("last-event-id"), Some("earliest"));
    let other = access_token(
        SUBSCRIBER_KEY,
        &claims(grant(&["subscribe"], json!([{"match": "/other"}]))),
    );
    let bearer = format!("Bearer {other}");
    let not_granted = open(&server, &path, &[("Authorization", &bearer)]).await;
    assert_eq!(not_granted.header("last-event-id"), Some("earliest"));
    let granted = access_token(
        SUBSCRIBER_KEY,
        &claims(grant(&["subscribe"], json!([{"match": "/t"}]))),
    );
    let bearer = format!("Bearer {granted}");
    let mut reader = open(&server, &path, &[("Authorization", &bearer)]).await;
    assert_eq!(reader.header("last-event-id"), Some(&*private));
    // The classic dialect's subscribers likewise.
    let classic = open(&server, &format!("{HUB}?topic=%2Ft"), &[]).await;
    assert_eq!(classic.header("last-event-id"), Some("earliest"));
    // Five streams: the shadowed ones are still open.
    server.wait_subscribers(5).await;
    let next = publish(&server, &[("topic", "/t"), ("data", "next")]).await;
    assert_eq!(reader.event().await.id.as_deref(), Some(&*next));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_are_refused_precisely() {
    let server = hub_with(|c| {
        c.mercure_anonymous = false;
        c.set("mercure_issuer", "https://auth.example").unwrap();
    })
    .await;
    let all = grant(&["publish"], json!([{"match": "*"}]));
    let good = {
        let mut c = claims(all.clone());
        c["iss"] = json!("https://auth.example");
        c
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        access_token(KEY, &c)
    };
    let ok = publish_as(&server, &access_token(KEY, &good), &[("topic", "/t")]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let aud_array = with(&|c| c["aud"] = json!(["urn:other", HUB_URL]));
    assert_eq!(
        publish_as(&server, &aud_array, &[("topic", "/t")])
            .await
            .status,
        200
    );
    for (token, reason) in [
        (with(&|c| c["iss"] = json!("https://evil.example")), "iss"),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            "iss",
        ),
        (
            with(&|c| c["aud"] = json!("https://other.example/.well-known/mercure")),
            "aud",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "aud",
        ),
        (with(&|c| c["exp"] = json!(1_000_000_000)), "expired"),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "exp is missing",
        ),
        (
            with(&|c| c["nbf"] = json!(token::now() + 600.0)),
            "not valid yet",
        ),
        (
            with(&|c| {
                c["authorization_details"] =
                    json!([{"type": "mercure", "actions": ["read"], "topics": [{"match": "*"}]}])
            }),
            "actions",
        ),
        (
            with(
                &|c| c["authorization_details"] = json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": "/(", "matchType": "URLPattern"}]}]),
            ),
            "URL pattern",
        ),
        (
            signed(KEY, r#"{"alg":"HS256","typ":"JOSE"}"#, &good),
            "typ must be JWT or at+jwt",
        ),
        (access_token(SUBSCRIBER_KEY, &good), "signature"),
        (
            signed(KEY, r#"{"alg":"none","typ":"at+jwt"}"#, &good),
            "HS256",
        ),
    ] {
        let r = publish_as(&server, &token, &[("topic", "/t")]).await;
        refused(&r, 401, Some("invalid_token"), reason);
    }
    // A valid token without the grant: 403.
    let narrow =
        with(&|c| c["authorization_details"] = grant(&["subscribe"], json!([{"match": "*"}])));
    let r = publish_as(&server, &narrow, &[("topic", "/t")]).await;
    refused(&r, 403, Some("insufficient_scope"), "does not grant");
    let books = with(&|c| {
        c["authorization_details"] = grant(
            &["publish"],
            json!([{"match": "https://example.com/books/:id", "matchType": "URLPattern"}]),
        )
    });
    assert_eq!(
        publish_as(&server, &books, &[("topic", "https://example.com/books/3")])
            .await
            .status,
        200
    );
    let r = publish_as(
        &server,
        &books,
        &[("topic", "https://example.com/authors/3")],
    )
    .await;
    refused(&r, 403, Some("insufficient_scope"), "does not grant");
    // The dialect is the token's: a classic token's authorization_details
    // mean nothing, an access token's mercure claim neither.
    let classic = token::sign(KEY.as_bytes(), good.to_string().as_bytes());
    let r = publish_as(&server, &classic, &[("topic", "/t")]).await;
    refused(&r, 403, Some("insufficient_scope"), "does not grant");
    let mixed = with(&|c| {
        c.as_object_mut().unwrap().remove("authorization_details");
        c["mercure"] = json!({"publish": ["*"]});
    });
    refused(
        &publish_as(&server, &mixed, &[("topic", "/t")]).await,
        403,
        Some("insufficient_scope"),
        "does not grant",
    );
    // 1.0 updates: one topic, not in the hub's namespace.
    let r = publish_as(
        &server,
        &access_token(KEY, &good),
        &[("topic", "/a"), ("topic", "/b")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="mercure", error="invalid_request""#)
    );
    let r = publish_as(
        &server,
        &access_token(KEY, &good),
        &[("topic", "/.well-known/mercure/subscriptions/Exact/a/b")],
    )
    .await;
    refused(&r, 403, Some("insufficient_scope"), "reserved namespace");
    let r = publish_as(
        &server,
        &access_token(KEY, &good),
        &[("topic", "/t"), ("retry", "+5")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // No token at all: 401 without an error code, with the metadata.
    let r = post(server.addr, HUB, &[FORM], &form(&[("topic", "/t")])).await;
    refused(&r, 401, None, "a publisher token is required");
    let r = get(server.addr, &query(&[("match", "/t")])).await;
    refused(&r, 401, None, "a subscriber token is required");
    // Subscribers' tokens are refused the same way.
    let sub = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(grant(&["subscribe"], json!([{"match": "*"}])));
        c["iss"] = json!("https://auth.example");
        f(&mut c);
        access_token(SUBSCRIBER_KEY, &c)
    };
    let path = format!(
        "{}&access_token={}",
        query(&[("match", "/t")]),
        sub(&|_| {})
    );
    drop(open(&server, &path, &[]).await);
    let wrong_aud = sub(&|c| c["aud"] = json!("urn:another-hub"));
    let bearer = format!("Bearer {wrong_aud}");
    let r = get_with(
        server.addr,
        &query(&[("match", "/t")]),
        &[("Authorization", &bearer)],
    )
    .await;
    refused(&r, 401, Some("invalid_token"), "aud");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_ends_its_stream_when_it_expires() {
    let server = hub_with(|c| c.token_leeway = Duration::ZERO).await;
    let mut c = claims(grant(&["subscribe"], json!([{"match": "*"}])));
    c["exp"] = json!(token::now() + 1.5);
    let t = access_token(SUBSCRIBER_KEY, &c);
    let mut sse = open(
        &server,
        &format!("{}&access_token={t}", query(&[("match", "/t")])),
        &[],
    )
    .await;
    sse.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_1_0_subscriptions_are_invalid_requests() {
    let server = hub_with(|_| {}).await;
    for (path, reason) in [
        (query(&[("matchRegex", "a")]), "not a matcher type"),
        (query(&[("MATCH", "a")]), "not a matcher type"),
        (query(&[("match", "a"), ("topic", "b")]), "not both"),
        (query(&[("match", "a\u{1}b")]), "control characters"),
        (query(&[("match", "a\u{85}b")]), "control characters"),
        (
            query(&[("matchURLPattern", "https://example.com/:id(")]),
            "URL pattern",
        ),
        (format!("{HUB}?other=1"), "missing topic"),
    ] {
        let r = get(server.addr, &path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.text().contains(reason), "{path}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer realm="mercure", error="invalid_request""#)
        );
    }
}
