//! What every family shares: the case tally, the sentinel subscribers,
//! raw HTTP exchanges, and the table-driven runner ([`run_table`]) each
//! family feeds its [`Case`]s to.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::*;
use crate::wsraw::{close_frame, RawWs, WsEnd};

// ---------------------------------------------------------------- tally

/// Counts a family's cases; [`Tally::done`] prints the count and checks it
/// against the family's floor.
pub struct Tally {
    family: &'static str,
    names: Vec<String>,
}

impl Tally {
    pub fn new(family: &'static str) -> Tally {
        Tally {
            family,
            names: Vec::new(),
        }
    }

    /// Records a case; names must be distinct within a family.
    pub fn case(&mut self, name: impl Into<String>) {
        let name = name.into();
        assert!(
            !self.names.contains(&name),
            "{}: case {name:?} twice",
            self.family
        );
        self.names.push(name);
    }

    pub fn done(self) {
        let floor = crate::FLOORS
            .iter()
            .find(|(f, _)| *f == self.family)
            .map(|(_, n)| *n)
            .unwrap_or_else(|| panic!("no floor for {}", self.family));
        println!("hostile {}: {} cases", self.family, self.names.len());
        assert!(
            self.names.len() >= floor,
            "{}: {} cases, the floor is {floor}",
            self.family,
            self.names.len()
        );
    }
}

// ---------------------------------------------------------------- sentinel

/// A well-behaved WebSocket and SSE subscriber on `sentinel`: after each
/// case a message is published and both must receive exactly it, next.
pub struct Sentinel {
    /// Text frames of the WebSocket, read by a task of their own so that
    /// pings are answered however long a case takes.
    ws: tokio::sync::mpsc::UnboundedReceiver<String>,
    sse: Sse,
    pub sent: usize,
}

/// The channel the sentinels listen to.
pub const SENTINEL: &str = "sentinel";

/// Subscriptions the sentinel holds (its WebSocket and its SSE stream).
pub const SENTINEL_SUBS: u64 = 2;

impl Sentinel {
    pub async fn open(server: &Server) -> Sentinel {
        let mut socket = ws_open(server.addr, "/ws/sentinel").await;
        let (tx, ws) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            use tokio_tungstenite::tungstenite::Message;
            while let Some(Ok(m)) = socket.next().await {
                if let Message::Text(t) = m {
                    let _ = tx.send(t.as_str().to_owned());
                }
            }
        });
        let sse = sse_open(server.addr, "/sse/sentinel", &[]).await;
        server.wait_subscribers(SENTINEL_SUBS).await;
        Sentinel { ws, sse, sent: 0 }
    }

    /// Publishes a message after `case` and checks both subscribers get it.
    pub async fn check(&mut self, server: &Server, case: &str) {
        let text = format!("after {case}");
        server.publish(SENTINEL, text.clone());
        self.received(&text, case).await;
    }

    /// Checks both subscribers get `text` next (published by the caller).
    pub async fn received(&mut self, text: &str, case: &str) {
        self.sent += 1;
        let got = timeout(T, self.ws.recv())
            .await
            .unwrap_or_else(|_| panic!("{case}: the WebSocket sentinel got nothing"))
            .unwrap_or_else(|| panic!("{case}: the WebSocket sentinel was closed"));
        assert_eq!(got, text, "{case}: the WebSocket sentinel");
        let event = self.sse.event().await;
        assert_eq!(event.data(), text, "{case}: the SSE sentinel");
    }

    /// Checks the sentinel, then that only its own subscriptions are left
    /// (the case's connection let go of whatever it held).
    pub async fn after(&mut self, server: &Server, case: &str) {
        self.check(server, case).await;
        server.wait_subscribers(SENTINEL_SUBS).await;
    }
}

// ---------------------------------------------------------------- raw HTTP

/// What a raw exchange ended with.
#[derive(Debug)]
pub enum Outcome {
    /// A response (101 responses end at their head).
    Reply(Response),
    /// The connection closed (or was reset) without a byte.
    Closed,
    /// Nothing within the wait, and the connection still open.
    Silent,
}

/// What a case must end with.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// This status, and a body containing the fragment ("" for any).
    Status(u16, &'static str),
}

impl Outcome {
    pub fn check(&self, case: &str, want: Want) {
        match (self, want) {
            (Outcome::Reply(r), Want::Status(status, fragment)) => {
                assert_eq!(r.status, status, "{case}: {:?}", r.text());
                assert!(
                    r.text().contains(fragment),
                    "{case}: {:?} lacks {fragment:?}",
                    r.text()
                );
                if status >= 400 && !r.body.is_empty() {
                    let json = r.json();
                    assert!(json["error"].is_string(), "{case}: {json}");
                }
            }
            (other, want) => panic!("{case}: expected {want:?}, got {other:?}"),
        }
    }
}

/// Reads one response from `stream` (`raw` holds bytes already read and
/// keeps those read past the response). `None` at EOF before a byte.
pub async fn read_reply(
    stream: &mut TcpStream,
    raw: &mut Vec<u8>,
    within: Duration,
) -> Option<Outcome> {
    let mut buf = vec![0u8; 65536];
    let mut eof = false;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(end) = find(raw, b"\r\n\r\n") {
            let (status, headers) = parse_head_text(&String::from_utf8_lossy(&raw[..end]));
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let rest = &raw[end + 4..];
            let body_end = if status == 101 || status == 204 || status == 304 {
                Some((0, Vec::new()))
            } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                let mut chunks = Dechunk::default();
                let body = chunks.push(rest);
                // The consumed length is unknown to Dechunk: take it all.
                chunks.done.then_some((rest.len(), body))
            } else if let Some(len) = header("content-length") {
                let len: usize = len.parse().expect("a Content-Length");
                (rest.len() >= len).then(|| (len, rest[..len].to_vec()))
            } else {
                eof.then(|| (rest.len(), rest.to_vec()))
            };
            if let Some((used, body)) = body_end {
                let taken = end + 4 + used;
                raw.drain(..taken);
                return Some(Outcome::Reply(Response {
                    status,
                    headers,
                    body,
                }));
            }
        }
        if eof {
            assert!(
                raw.is_empty(),
                "the connection closed in a response: {:?}",
                String::from_utf8_lossy(raw)
            );
            return None;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) if raw.is_empty() => return Some(Outcome::Silent),
            Err(_) => panic!(
                "a partial response within {within:?}: {:?}",
                String::from_utf8_lossy(raw)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => eof = true,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `bytes` on a new connection and reads one response (or the close).
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Outcome {
    exchange_within(addr, bytes, T).await
}

pub async fn exchange_within(addr: SocketAddr, bytes: &[u8], within: Duration) -> Outcome {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may refuse and close before reading everything.
    let _ = stream.write_all(bytes).await;
    let mut raw = Vec::new();
    read_reply(&mut stream, &mut raw, within)
        .await
        .unwrap_or(Outcome::Closed)
}

// ---------------------------------------------------------------- tables

/// How a case of a table is sent, and what it must end with.
#[derive(Debug)]
pub enum Expect {
    /// Sent on a new connection: one response, or the close, as `Want`.
    Http(Want),
    /// A WebSocket handshake sent on a new connection: as `Want`, and a 101
    /// offers no extension and no subprotocol, a 426 names version 13.
    Handshake(Want),
    /// Sent on a new connection, then the client's end of stream: closed
    /// without an answer.
    ClosedAfterEof,
    /// Sent on a new connection: these responses in order, then (when
    /// `true`) the close, so nothing pipelined behind them is served.
    Replies(Vec<Want>, bool),
    /// Sent after a WebSocket upgrade on `/ws/pub`: the connection ends so,
    /// and nothing was published.
    Ws(WsEnd),
    /// Sent after a WebSocket upgrade on `/ws/pub`: these frames come back
    /// (pings skipped), then a clean close — the connection was not
    /// disturbed.
    WsOk(Vec<(u8, Vec<u8>)>),
}

/// One case of a family's table: its name (in every failure message), the
/// bytes a hostile peer sends, and what they must end with.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

impl Case {
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case {
            name: name.into(),
            bytes: bytes.into(),
            expect,
        }
    }

    /// Sent on a new connection, answered as `want`.
    pub fn http(name: impl Into<String>, bytes: impl Into<Vec<u8>>, want: Want) -> Case {
        Case::new(name, bytes, Expect::Http(want))
    }

    /// Sent after the upgrade on `/ws/pub`, ending as `end`.
    pub fn ws(name: impl Into<String>, bytes: impl Into<Vec<u8>>, end: WsEnd) -> Case {
        Case::new(name, bytes, Expect::Ws(end))
    }

    /// Sent after the upgrade on `/ws/pub`, answered with `frames`.
    pub fn ws_ok(
        name: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
        frames: &[(u8, &[u8])],
    ) -> Case {
        let frames = frames.iter().map(|(o, p)| (*o, p.to_vec())).collect();
        Case::new(name, bytes, Expect::WsOk(frames))
    }

    /// Sends the case and checks how it ends (not the sentinel).
    async fn run(&self, server: &Server) {
        let name = &self.name[..];
        match &self.expect {
            Expect::Http(want) => exchange(server.addr, &self.bytes).await.check(name, *want),
            Expect::Handshake(want) => {
                let outcome = exchange(server.addr, &self.bytes).await;
                outcome.check(name, *want);
                if let Outcome::Reply(r) = &outcome {
                    match r.status {
                        101 => {
                            assert_eq!(
                                r.header("sec-websocket-extensions"),
                                None,
                                "{name}: no extension"
                            );
                            assert_eq!(
                                r.header("sec-websocket-protocol"),
                                None,
                                "{name}: no subprotocol"
                            );
                        }
                        426 => assert_eq!(r.header("sec-websocket-version"), Some("13"), "{name}"),
                        _ => {}
                    }
                }
            }
            Expect::ClosedAfterEof => {
                let mut stream = TcpStream::connect(server.addr).await.unwrap();
                stream.write_all(&self.bytes).await.unwrap();
                stream.shutdown().await.unwrap();
                let mut raw = Vec::new();
                let end = read_reply(&mut stream, &mut raw, T).await;
                assert!(end.is_none(), "{name}: {end:?}");
            }
            Expect::Replies(wants, closed) => {
                let mut stream = TcpStream::connect(server.addr).await.unwrap();
                stream.write_all(&self.bytes).await.unwrap();
                let mut raw = Vec::new();
                for want in wants {
                    let reply = read_reply(&mut stream, &mut raw, T).await.expect("a reply");
                    reply.check(name, *want);
                }
                if *closed {
                    assert!(
                        read_reply(&mut stream, &mut raw, T).await.is_none(),
                        "{name}: closed after the answer, what follows is not served"
                    );
                }
            }
            Expect::Ws(end) => {
                let published = || server.hub.last_id("pub").map_or(0, |id| id.offset);
                let before = published();
                let mut ws = RawWs::open(server.addr, "/ws/pub").await;
                ws.send(&self.bytes).await;
                assert_eq!(ws.end().await, *end, "{name}");
                assert_eq!(published(), before, "{name}: nothing was published");
            }
            Expect::WsOk(frames) => {
                let mut ws = RawWs::open(server.addr, "/ws/pub").await;
                ws.send(&self.bytes).await;
                for (opcode, payload) in frames {
                    let got = ws
                        .next_frame()
                        .await
                        .unwrap_or_else(|| panic!("{name}: closed"));
                    assert_eq!(
                        (got.opcode, &got.payload[..]),
                        (*opcode, &payload[..]),
                        "{name}"
                    );
                }
                ws.send(&close_frame(1000, b"")).await;
                assert_eq!(ws.end().await, WsEnd::Close(1000), "{name}: a clean close");
            }
        }
    }
}

/// Runs a family's table in order: each case is counted, sent and checked,
/// then the sentinel must receive a message published after it.
pub async fn run_table(
    server: &Server,
    sentinel: &mut Sentinel,
    tally: &mut Tally,
    cases: impl IntoIterator<Item = Case>,
) {
    run_table_then(server, sentinel, tally, cases, |_| {}).await;
}

/// [`run_table`], with `then` checking what the family checks after each
/// case (after the sentinel).
pub async fn run_table_then(
    server: &Server,
    sentinel: &mut Sentinel,
    tally: &mut Tally,
    cases: impl IntoIterator<Item = Case>,
    mut then: impl FnMut(&Case),
) {
    for case in cases {
        tally.case(&case.name[..]);
        case.run(server).await;
        sentinel.after(server, &case.name).await;
        then(&case);
    }
}

/// A WebSocket upgrade request for `path` (version 13, a fixed key).
pub fn upgrade(path: &str) -> Vec<u8> {
    head(
        &format!("GET {path} HTTP/1.1"),
        &[
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ],
    )
}

/// A request head with `Host` and `Connection: close`, the extra header
/// lines as given (each without its CRLF), and the blank line.
pub fn head(request_line: &str, lines: &[&str]) -> Vec<u8> {
    let mut s = format!("{request_line}\r\nHost: localhost\r\nConnection: close\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}
