//! The Mercure hub's protected resource metadata (draft-08, RFC 9728)
//! and its CORS: `push.mercure_cors_origins` (preflights, credentialed
//! streams, 403 for other origins), else `push.allowed_origins`.

mod common;

use common::mercure::*;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protected_resource_metadata() {
    let server = hub_with(|_| {}).await;
    let r = get(server.addr, METADATA).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "resource": HUB_URL,
            "bearer_methods_supported": ["header", "query"],
            "mercure_cookie": true,
            "mercure_version": 8,
        })
    );
    let r = get_with(server.addr, METADATA, &[("X-Forwarded-Proto", "https")]).await;
    assert_eq!(
        r.json()["resource"],
        "https://localhost/.well-known/mercure"
    );
    let pinned = hub_with(|c| {
        c.set("mercure_issuer", "https://auth.example").unwrap();
        c.set(
            "mercure_audience",
            "https://push.example/.well-known/mercure",
        )
        .unwrap();
    })
    .await;
    let doc = get(pinned.addr, METADATA).await.json();
    assert_eq!(doc["resource"], "https://push.example/.well-known/mercure");
    assert_eq!(
        doc["authorization_servers"],
        json!(["https://auth.example"])
    );
    // The pinned audience is the only one: the request's URL is not.
    let mut c = claims(grant(&["publish"], json!([{"match": "*"}])));
    c["iss"] = json!("https://auth.example");
    let t = access_token(KEY, &c);
    let r = publish_as(&pinned, &t, &[("topic", "/t")]).await;
    refused(&r, 401, Some("invalid_token"), "aud");
    let mut c = claims(grant(&["publish"], json!([{"match": "*"}])));
    c["aud"] = json!("https://push.example/.well-known/mercure");
    c["iss"] = json!("https://auth.example");
    assert_eq!(
        publish_as(&pinned, &access_token(KEY, &c), &[("topic", "/t")])
            .await
            .status,
        200
    );
    // Without the hub, no metadata.
    let off = Server::start().await;
    assert_eq!(get(off.addr, METADATA).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_has_cors_origins_of_its_own() {
    let server = hub_with(|c| {
        c.set("mercure_cors_origins", "https://app.example")
            .unwrap();
        c.mercure_anonymous = false;
    })
    .await;
    let preflight = |path: &'static str, origin: &'static str| {
        let addr = server.addr;
        async move {
            request(
                addr,
                "OPTIONS",
                path,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "authorization"),
                ],
                b"",
            )
            .await
        }
    };
    let r = preflight(HUB, "https://app.example").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    // What the hub's clients send: Cache-Control with a token in the
    // query (draft-08), the 1.0 resume header.
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, cache-control, content-type, last-event-id, mercure-last-event-id")
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("last-event-id")
    );
    let r = preflight(HUB, "https://evil.example").await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("push.mercure_cors_origins"),
        "{}",
        r.text()
    );
    let r = preflight(METADATA, "https://evil.example").await;
    assert_eq!(r.status, 403);
    // push's own doors keep push.allowed_origins (*: any origin, no
    // credentials).
    let r = preflight("/publish/news", "https://evil.example").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-credentials"), None);
    assert_eq!(r.header("access-control-expose-headers"), None);
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, content-type, last-event-id")
    );
    // A credentialed EventSource from the app: the cookie is taken.
    let t = access_token(
        SUBSCRIBER_KEY,
        &claims(grant(&["subscribe"], json!([{"match": "*"}]))),
    );
    let cookie = format!("mercureAccessToken={t}");
    let path = query(&[("match", "/t")]);
    let mut sse = open(
        &server,
        &path,
        &[("Origin", "https://app.example"), ("Cookie", &cookie)],
    )
    .await;
    assert_eq!(
        sse.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(sse.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        sse.header("access-control-expose-headers"),
        Some("last-event-id")
    );
    server.wait_subscribers(1).await;
    publish(
        &server,
        &[("topic", "/t"), ("private", "on"), ("data", "for the app")],
    )
    .await;
    assert_eq!(sse.event().await.data(), "for the app");
    // The same cookie from a page of another origin is refused (403
    // before the token is read), as is a request with no token.
    let r = get_with(
        server.addr,
        &path,
        &[("Origin", "https://evil.example"), ("Cookie", &cookie)],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = get_with(server.addr, &path, &[("Origin", "https://app.example")]).await;
    refused(&r, 401, None, "a subscriber token is required");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cors_origins_the_hub_follows_allowed_origins() {
    let server = hub_with(|c| {
        c.set("allowed_origins", "https://site.example").unwrap();
    })
    .await;
    let t = access_token(
        SUBSCRIBER_KEY,
        &claims(grant(&["subscribe"], json!([{"match": "*"}]))),
    );
    let cookie = format!("__Secure-mercure_access_token={t}");
    let path = query(&[("match", "/t")]);
    let sse = open(
        &server,
        &path,
        &[("Origin", "https://site.example"), ("Cookie", &cookie)],
    )
    .await;
    assert_eq!(sse.header("access-control-allow-credentials"), Some("true"));
    let r = get_with(server.addr, &path, &[("Origin", "https://evil.example")]).await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("push.allowed_origins"), "{}", r.text());
}
