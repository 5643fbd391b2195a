//! Bad channel names on every transport (path and `?channel=`), and bad
//! query values: long-poll timeouts, formats, event names, a channel
//! repeated a thousand times. Names are literal: `..` is an ordinary name,
//! never a path step.

use crate::common::*;
use crate::harness::*;

const CHANNEL: &str = "invalid channel name";

/// The transports a channel name reaches, as request bytes for `name`
/// (already percent-encoded as it should appear in the URL).
fn transports(name: &str) -> Vec<(&'static str, Vec<u8>)> {
    let get = |path: String| head(&format!("GET {path} HTTP/1.1"), &[]);
    let mut publish = head(
        &format!("POST /publish/{name} HTTP/1.1"),
        &["Content-Length: 1"],
    );
    publish.push(b'x');
    vec![
        ("ws path", upgrade(&format!("/ws/{name}"))),
        ("ws query", upgrade(&format!("/ws?channel={name}"))),
        ("sse path", get(format!("/sse/{name}"))),
        ("sse query", get(format!("/sse?channel={name}"))),
        ("poll path", get(format!("/poll/{name}?timeout=0"))),
        ("publish path", publish),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_channel_names_are_refused_everywhere() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("names");
    let long = "c".repeat(256);
    let bad: &[(&str, &str)] = &[
        ("256 characters", &long),
        ("space", "a%20b"),
        ("star", "a*"),
        ("NUL", "a%00b"),
        ("accented", "caf%C3%A9"),
        ("question mark", "a%3Fb"),
        ("lone percent", "a%"),
        // Pusher's `= , ;` are valid (see message.rs); these are not.
        ("backslash", "a%5Cb"),
        ("plus", "a+b"),
        ("pipe", "a%7Cb"),
        ("tab", "a%09b"),
    ];
    let mut cases: Vec<Case> = Vec::new();
    for (label, name) in bad {
        for (transport, bytes) in transports(name) {
            let case = format!("{transport}: {label}");
            cases.push(Case::http(case, bytes, Want::Status(400, CHANNEL)));
        }
    }
    // Not UTF-8 once decoded: the path is refused by the router's parser,
    // the query's bytes become U+FFFD and fail the name rules.
    for (transport, bytes) in transports("a%FFb") {
        let case = format!("{transport}: byte 0xff");
        let want = if transport.ends_with("query") {
            Want::Status(400, CHANNEL)
        } else {
            Want::Status(400, "Invalid UTF-8")
        };
        cases.push(Case::http(case, bytes, want));
    }
    // An empty name: no route for an empty path segment, a refusal in a query.
    let empty: &[(&str, &str, Want)] = &[
        (
            "ws path: empty",
            "/ws/",
            Want::Status(404, "no such endpoint"),
        ),
        (
            "sse path: empty",
            "/sse/",
            Want::Status(404, "no such endpoint"),
        ),
        (
            "poll path: empty",
            "/poll/",
            Want::Status(404, "no such endpoint"),
        ),
        (
            "sse query: empty",
            "/sse?channel=",
            Want::Status(400, CHANNEL),
        ),
        (
            "sse query: no value",
            "/sse?channel",
            Want::Status(400, CHANNEL),
        ),
        (
            "sse query: none",
            "/sse?chanel=a",
            Want::Status(400, "name a channel"),
        ),
    ];
    for (case, path, want) in empty {
        let bytes = head(&format!("GET {path} HTTP/1.1"), &[]);
        cases.push(Case::http(*case, bytes, *want));
    }
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_names_are_literal_names() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("names-literal");
    // `..`, `%2e%2e` and `a/../b` name channels of their own: a subscriber
    // of `a/../b` is not one of `b`, and the reverse.
    for (label, url, channel) in [
        ("dot dot", "..", ".."),
        ("encoded dot dot", "%2e%2e", ".."),
        ("dot dot inside", "a/../b", "a/../b"),
        ("encoded slash", "a%2F..%2Fb", "a/../b"),
        ("255 characters", &*"c".repeat(255), &*"c".repeat(255)),
    ] {
        let case = format!("sse and poll: {label}");
        tally.case(&case);
        let mut sse = sse_open(server.addr, &format!("/sse/{url}"), &[]).await;
        let mut other = sse_open(server.addr, "/sse/b", &[]).await;
        server.wait_subscribers(SENTINEL_SUBS + 2).await;
        let r = post(server.addr, &format!("/publish/{url}"), &[], b"literal").await;
        assert_eq!(r.status, 200, "{case}: {}", r.text());
        assert_eq!(r.json()["channel"], channel, "{case}");
        assert_eq!(sse.event().await.data(), "literal", "{case}");
        server.publish("b", "b only");
        assert_eq!(other.event().await.data(), "b only", "{case}");
        sse.quiet(std::time::Duration::from_millis(50)).await;
        let epoch = server.hub.last_id(channel).unwrap().epoch;
        let r = get(
            server.addr,
            &format!("/poll/{url}?since={epoch:x}-0&timeout=0"),
        )
        .await;
        assert_eq!(r.json()["messages"][0]["data"], "literal", "{case}");
        drop((sse, other));
        sentinel.after(&server, &case).await;
    }
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_values_are_refused() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("queries");
    let timeout = "timeout must be a number of seconds";
    let distinct: String = (0..1000).map(|i| format!("channel=c{i}&")).collect();
    let sixty_five: String = (0..65).map(|i| format!("channel=c{i}&")).collect();
    let cases: Vec<(String, String, Want)> = [
        ("/poll/q?timeout=-1", Want::Status(400, timeout)),
        ("/poll/q?timeout=NaN", Want::Status(400, timeout)),
        ("/poll/q?timeout=nan", Want::Status(400, timeout)),
        ("/poll/q?timeout=inf", Want::Status(400, timeout)),
        ("/poll/q?timeout=-inf", Want::Status(400, timeout)),
        ("/poll/q?timeout=1e400", Want::Status(400, timeout)),
        ("/poll/q?timeout=", Want::Status(400, timeout)),
        ("/poll/q?timeout=1,5", Want::Status(400, timeout)),
        ("/poll/q?timeout=0x10", Want::Status(400, timeout)),
        ("/poll/q?timeout=10s", Want::Status(400, timeout)),
        ("/poll/q?timeout=%FF", Want::Status(400, timeout)),
        ("/poll/q?timeout=-0", Want::Status(200, "\"messages\":[]")),
        (
            "/poll/q?timeout=0&timeout=30",
            Want::Status(200, "\"messages\":[]"),
        ),
        (
            "/sse/q?format=xml",
            Want::Status(400, "format must be json or raw"),
        ),
        (
            "/sse/q?format=JSON",
            Want::Status(400, "format must be json or raw"),
        ),
        (
            "/sse/q?format=",
            Want::Status(400, "format must be json or raw"),
        ),
        (
            "/poll/q?unknown=1&timeout=0",
            Want::Status(200, "\"messages\":[]"),
        ),
        ("/publish/q?event=", Want::Status(400, "invalid event name")),
        (
            "/publish/q?event=a%00b",
            Want::Status(400, "invalid event name"),
        ),
        (
            "/publish/q?event=a%0Db",
            Want::Status(400, "invalid event name"),
        ),
    ]
    .into_iter()
    .map(|(path, want)| (path.to_owned(), path.to_owned(), want))
    .chain([
        (
            "event of 201 characters".into(),
            format!("/publish/q?event={}", "e".repeat(201)),
            Want::Status(400, "invalid event name"),
        ),
        (
            "1000 distinct channels".into(),
            format!("/sse?{distinct}"),
            Want::Status(400, "max_channels_per_connection"),
        ),
        (
            "65 channels".into(),
            format!("/sse?{sixty_five}"),
            Want::Status(400, "max_channels_per_connection"),
        ),
    ])
    .collect();
    let mut cases: Vec<Case> = cases
        .into_iter()
        .map(|(case, path, want)| {
            let bytes = if path.starts_with("/publish") {
                let mut b = head(&format!("POST {path} HTTP/1.1"), &["Content-Length: 1"]);
                b.push(b'x');
                b
            } else {
                head(&format!("GET {path} HTTP/1.1"), &[])
            };
            Case::http(case, bytes, want)
        })
        .collect();
    // A huge timeout is capped by push.poll_timeout; with a message after
    // `since` the answer comes at once.
    let case = "/poll?since=…&timeout=1e18";
    let held = server.publish("qh", "held");
    let path = format!("/poll/qh?since={:x}-0&timeout=1e18", held.id.epoch);
    let bytes = head(&format!("GET {path} HTTP/1.1"), &[]);
    cases.push(Case::http(
        case,
        bytes,
        Want::Status(200, "\"data\":\"held\""),
    ));
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    // Repeated or at the limit: accepted.
    let same: String = (0..1000).map(|_| "channel=same&").collect();
    let sixty_four: String = (0..64).map(|i| format!("channel=k{i}&")).collect();
    for (case, query, subs) in [
        ("one channel repeated 1000 times", same, 1),
        ("64 channels", sixty_four, 64),
    ] {
        tally.case(case);
        let sse = sse_open(server.addr, &format!("/sse?{query}"), &[]).await;
        server.wait_subscribers(SENTINEL_SUBS + subs).await;
        drop(sse);
        sentinel.after(&server, case).await;
    }
    tally.done();
}
