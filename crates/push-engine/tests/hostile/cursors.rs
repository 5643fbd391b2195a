//! Bogus cursors and ids on every transport: the WebSocket and SSE
//! `?lastEventId=`, the SSE `Last-Event-ID` header and the long-poll
//! `?since=` — malformed ids, overflowing and negative numbers, unicode
//! digits, percent-encoding tricks, and composite cursors of several
//! channels. Each is refused with 400 before anything is subscribed. Ids
//! that parse but name nothing the engine holds are reported as lost.

use crate::common::*;
use crate::harness::*;

/// One-channel cursors that are not ids, and the error they get.
fn bad_ids() -> Vec<(&'static str, String)> {
    let s = |v: &str| v.to_owned();
    vec![
        ("dash only", s("-")),
        ("no offset", s("1-")),
        ("no epoch", s("-1")),
        ("epoch not hex", s("x-1")),
        ("offset not decimal", s("1-x")),
        ("uppercase hex epoch", s("ABC-1")),
        ("plus sign", s("1-+2")),
        ("space in offset", s("1- 2")),
        ("17-digit epoch", s("11111111111111111-1")),
        ("21-digit offset", s("1-111111111111111111111")),
        ("offset overflows u64", s("1-18446744073709551616")),
        ("negative epoch", s("-1-1")),
        ("negative offset", s("1--1")),
        ("three parts", s("1-2-3")),
        ("underscore", s("1_2")),
        ("0x prefix", s("0x1-1")),
        ("fractional epoch", s("1.5-1")),
        ("exponent offset", s("1-1e3")),
        ("trailing comma", s("1-1,")),
        ("fullwidth digits", s("\u{ff11}-\u{ff11}")),
        ("Arabic-Indic offset", s("1-\u{663}")),
        ("accented epoch", s("\u{e9}-1")),
        ("percent-encoded twice", s("%31-1")),
        ("10 KB id", format!("{}-1", "1".repeat(10_000))),
        ("NUL after the id", s("1-1\0")),
        ("newline after the id", s("1-1\n")),
    ]
}

/// Composite cursors (several channels) that are not composite cursors.
fn bad_composites() -> Vec<(&'static str, String, &'static str)> {
    let s = |v: &str| v.to_owned();
    let id = "invalid message id";
    vec![
        ("composite: empty id", s("a="), id),
        (
            "composite: empty channel",
            s("=1-2"),
            "invalid channel name",
        ),
        ("composite: trailing comma", s("a=1-2,"), id),
        ("composite: empty part", s("a=1-2,,b=1-2"), id),
        ("composite: part without =", s("a=1-2,b"), id),
        (
            "composite: space in channel",
            s("a b=1-2"),
            "invalid channel name",
        ),
        ("composite: bad id", s("a=x"), id),
        ("composite: two =", s("a=1-2=3"), id),
        ("composite: semicolons", s("a=1-2;b=1-2"), id),
        (
            "composite: 256-character channel",
            format!("{}=1-2", "c".repeat(256)),
            "invalid channel name",
        ),
        (
            "composite: accented channel",
            s("\u{e9}=1-2"),
            "invalid channel name",
        ),
        ("one id for two channels", s("1-2"), "composite cursor"),
    ]
}

/// `GET path` with a raw `Last-Event-ID` header (its bytes as given).
fn with_header(path: &str, value: &str) -> Vec<u8> {
    let mut b = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nLast-Event-ID: ")
        .into_bytes();
    b.extend_from_slice(value.as_bytes());
    b.extend_from_slice(b"\r\n\r\n");
    b
}

/// Whether hyper takes `value` as a header value at all (no control bytes).
fn header_ok(value: &str) -> bool {
    !value.bytes().any(|b| b < 0x20 || b == 0x7f) && value.trim() == value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_cursors_are_refused_on_every_transport() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("cursors");
    let bad = Want::Status(400, "invalid message id");
    let mut cases: Vec<Case> = Vec::new();
    for (label, cursor) in bad_ids() {
        let q = enc(&cursor);
        let mut requests = vec![
            (
                format!("ws lastEventId: {label}"),
                upgrade(&format!("/ws/c?lastEventId={q}")),
            ),
            (
                format!("sse lastEventId: {label}"),
                head(&format!("GET /sse/c?lastEventId={q} HTTP/1.1"), &[]),
            ),
            (
                format!("poll since: {label}"),
                head(&format!("GET /poll/c?since={q}&timeout=0 HTTP/1.1"), &[]),
            ),
        ];
        if header_ok(&cursor) {
            requests.push((
                format!("sse Last-Event-ID: {label}"),
                with_header("/sse/c", &cursor),
            ));
        }
        cases.extend(requests.into_iter().map(|(n, b)| Case::http(n, b, bad)));
    }
    for (label, cursor, fragment) in bad_composites() {
        let q = enc(&cursor);
        let want = Want::Status(400, fragment);
        let requests = vec![
            (
                format!("ws: {label}"),
                upgrade(&format!("/ws?channel=a&channel=b&lastEventId={q}")),
            ),
            (
                format!("sse: {label}"),
                head(
                    &format!("GET /sse?channel=a&channel=b&lastEventId={q} HTTP/1.1"),
                    &[],
                ),
            ),
        ];
        cases.extend(requests.into_iter().map(|(n, b)| Case::http(n, b, want)));
        if header_ok(&cursor) {
            // A header that is not ASCII is refused as a cursor first.
            let want = if cursor.is_ascii() { want } else { bad };
            let name = format!("sse header: {label}");
            let bytes = with_header("/sse?channel=a&channel=b", &cursor);
            cases.push(Case::http(name, bytes, want));
        }
    }
    // A long-poll cursor is one id: a composite one is refused.
    let name = "poll since: a composite cursor";
    let bytes = head(
        &format!("GET /poll/a?since={}&timeout=0 HTTP/1.1", enc("a=1-2")),
        &[],
    );
    cases.push(Case::http(name, bytes, bad));
    // Not UTF-8 once decoded: refused by the query parser.
    for (name, path) in [
        ("ws lastEventId: %FF", "/ws/c?lastEventId=%FF"),
        ("sse lastEventId: %FF", "/sse/c?lastEventId=%FF"),
        ("poll since: %FF", "/poll/c?since=%FF"),
    ] {
        let bytes = if name.starts_with("ws") {
            upgrade(path)
        } else {
            head(&format!("GET {path} HTTP/1.1"), &[])
        };
        cases.push(Case::http(name, bytes, Want::Status(400, "")));
    }
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_the_engine_never_gave_are_reported_lost() {
    let server = Server::start().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("cursors-lost");
    let p = server.publish("c", "held");
    let cursors = [
        (
            "an offset ahead of the channel",
            format!("{:x}-{}", p.id.epoch, p.id.offset + 1000),
        ),
        ("another epoch", "1-1".to_owned()),
        ("the largest id", format!("{:x}-{}", u64::MAX, u64::MAX)),
    ];
    for (label, cursor) in &cursors {
        let q = enc(cursor);
        let name = format!("sse: {label}");
        tally.case(&name);
        let mut sse = sse_open(server.addr, &format!("/sse/c?lastEventId={q}"), &[]).await;
        let lost = sse.event().await;
        assert_eq!(lost.event.as_deref(), Some("push-lost"), "{name}");
        let held = sse.event().await;
        assert_eq!(
            (held.id.as_deref(), held.data()),
            (Some(&*p.id.to_string()), "held"),
            "{name}"
        );
        drop(sse);
        sentinel.after(&server, &name).await;

        let name = format!("poll: {label}");
        tally.case(&name);
        let r = get(server.addr, &format!("/poll/c?since={q}&timeout=0")).await;
        let json = r.json();
        assert_eq!(json["lost"], true, "{name}: {json}");
        assert_eq!(json["messages"][0]["data"], "held", "{name}: {json}");
        sentinel.after(&server, &name).await;

        let name = format!("ws raw: {label}");
        tally.case(&name);
        let mut ws = ws_open(server.addr, &format!("/ws/c?lastEventId={q}")).await;
        assert_eq!(ws_close_code(&mut ws).await, 4001, "{name}");
        drop(ws);
        sentinel.after(&server, &name).await;

        let name = format!("ws json: {label}");
        tally.case(&name);
        let mut ws = ws_open(server.addr, &format!("/ws/c?format=json&lastEventId={q}")).await;
        assert_eq!(ws_json(&mut ws).await["type"], "lost", "{name}");
        assert_eq!(ws_json(&mut ws).await["data"], "held", "{name}");
        drop(ws);
        sentinel.after(&server, &name).await;
    }
    // An empty cursor is no cursor: a live subscription.
    for (name, path, headers) in [
        ("sse: empty lastEventId", "/sse/c?lastEventId=", vec![]),
        (
            "sse: empty Last-Event-ID",
            "/sse/c",
            vec![("Last-Event-ID", "")],
        ),
    ] {
        tally.case(name);
        let mut sse = sse_open(server.addr, path, &headers).await;
        server.wait_subscribers(SENTINEL_SUBS + 1).await;
        server.publish("c", name);
        assert_eq!(sse.event().await.data(), name, "{name}");
        drop(sse);
        sentinel.after(&server, name).await;
    }
    tally.done();
}
