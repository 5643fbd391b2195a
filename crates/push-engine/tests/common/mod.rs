//! Helpers shared by the transport tests (ws.rs, sse.rs, poll.rs, http.rs):
//! the real server on a free port, a minimal HTTP/1.1 client, an SSE reader
//! with a parser that follows the HTML specification, and WebSocket clients
//! (tokio-tungstenite, and a raw one for what a well-behaved client never
//! does).
//!
//! Every wait is bounded: [`T`] unless a test says otherwise.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use push_engine::{server, Config, Hub, Outgoing, Publication};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{error::Elapsed, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod redis;

/// The longest any single wait of a test may take.
pub const T: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- server

/// The configuration of the tests: a free port, short keep-alives and
/// long-polls, no collection while a test runs.
pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        keepalive: Duration::from_secs(1),
        poll_timeout: Duration::from_secs(2),
        reconnect_delay: Duration::from_millis(1500),
        sweep_interval: Duration::from_secs(3600),
        shutdown_timeout: Duration::from_secs(1),
        ..Config::default()
    }
}

/// `server::run` on a listener bound to port 0, with a oneshot for shutdown.
pub struct Server {
    pub addr: SocketAddr,
    pub hub: Hub,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Server {
        Server::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), tweak).await
    }

    /// Serves on `ip` (port 0) with the test configuration as `tweak` leaves it.
    pub async fn start_on(ip: IpAddr, tweak: impl FnOnce(&mut Config)) -> Server {
        let mut config = config();
        tweak(&mut config);
        config.validate().expect("a valid test configuration");
        Server::serve(ip, Hub::new(Arc::new(config))).await
    }

    /// Serves `hub` on `ip` (port 0).
    pub async fn serve(ip: IpAddr, hub: Hub) -> Server {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, hub.clone(), async move {
            let _ = stopped.await;
        }));
        // The first collection is push.sweep_interval (an hour) away: none
        // happens while the test runs.
        Server {
            addr,
            hub,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn publish(&self, channel: &str, data: impl Into<Bytes>) -> Arc<Publication> {
        self.hub
            .publish(channel, Outgoing::new(data))
            .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
    }

    pub fn publish_event(
        &self,
        channel: &str,
        event: &str,
        data: impl Into<Bytes>,
    ) -> Arc<Publication> {
        self.hub
            .publish(channel, Outgoing::new(data).event(event))
            .unwrap_or_else(|e| panic!("publish to {channel}: {e}"))
    }

    /// Asks the server to shut down, without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits until `server::run` has returned (after [`Server::begin_shutdown`]).
    pub async fn stopped(&mut self) {
        let task = self.task.take().expect("the server is running");
        timeout(T, task)
            .await
            .expect("server::run returns within T after shutdown")
            .expect("server::run does not panic");
    }

    /// Shuts down and waits until `server::run` has returned.
    pub async fn shutdown(&mut self) {
        self.begin_shutdown();
        self.stopped().await;
    }

    /// Waits until the hub counts exactly `n` subscriptions.
    pub async fn wait_subscribers(&self, n: u64) {
        let started = Instant::now();
        loop {
            let now = self.hub.stats().subscribers;
            if now == n {
                return;
            }
            assert!(
                started.elapsed() < T,
                "{now} subscribers after {T:?}, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// `text` percent-encoded for a query string.
pub fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local IPv4 address that is not loopback, if this host has one (the
/// address of the interface a route to the outside would use; nothing is sent).
/// This host's non-loopback address, for tests of a peer on another host.
/// A machine with no network interface but `lo` fails them rather than
/// skipping them.
pub fn host_ip() -> IpAddr {
    non_loopback_ip().expect("this test needs a non-loopback address (an interface besides lo)")
}

pub fn non_loopback_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket
        .connect("192.0.2.1:9")
        .or_else(|_| socket.connect("8.8.8.8:53"))
        .ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

// ---------------------------------------------------------------- HTTP

/// A whole HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?} (status {})", self.text(), self.status))
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes an HTTP/1.1 request head (and body).
pub async fn send_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the request head");
    // The server may refuse (and close) before it reads a body: that is
    // fine, its answer is still there to read.
    let _ = stream.write_all(body).await;
}

/// Parses a status line and headers (without the blank line).
fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let head = std::str::from_utf8(head).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line, not {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

/// Reads a response head; returns it and the bytes read past it.
async fn read_head(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            let (status, headers) = parse_head(&raw[..end]);
            return (status, headers, raw[end + 4..].to_vec());
        }
        let n = timeout(T, stream.read(&mut buf))
            .await
            .expect("a response head within T")
            .expect("read the response head");
        assert!(
            n > 0,
            "the connection closed before a response head: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

/// One request on its own connection (`Connection: close`), read to the end.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut all = vec![("Connection", "close")];
        all.extend_from_slice(headers);
        send_request(&mut stream, method, path, &all, body).await;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A reset after the answer (a refused body left unread).
                Err(e) if !raw.is_empty() => {
                    eprintln!("{method} {path}: {e} after the answer");
                    break;
                }
                Err(e) => panic!("{method} {path}: {e}"),
            }
        }
        let end = find(&raw, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
        let (status, headers) = parse_head(&raw[..end]);
        let rest = &raw[end + 4..];
        let body = if header(&headers, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            let mut chunks = Dechunk::default();
            let body = chunks.push(rest);
            assert!(chunks.done, "a chunked body ends with its last chunk");
            body
        } else if let Some(len) = header(&headers, "content-length") {
            let len: usize = len.parse().expect("a Content-Length");
            assert_eq!(rest.len(), len, "a body of Content-Length bytes");
            rest.to_vec()
        } else {
            rest.to_vec()
        };
        Response {
            status,
            headers,
            body,
        }
    };
    timeout(T, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within {T:?}"))
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, b"").await
}

pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    request(addr, "POST", path, headers, body).await
}

/// Decodes `Transfer-Encoding: chunked` as the bytes arrive.
#[derive(Debug, Default)]
pub struct Dechunk {
    buf: Vec<u8>,
    /// Bytes left of the current chunk, its closing CRLF included.
    left: Option<usize>,
    /// The last chunk (size 0) was read.
    pub done: bool,
}

impl Dechunk {
    /// Feeds raw bytes; returns the body bytes they complete.
    pub fn push(&mut self, raw: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(raw);
        let mut out = Vec::new();
        let mut pos = 0;
        while !self.done {
            match self.left {
                None => {
                    let Some(end) = find(&self.buf[pos..], b"\r\n") else {
                        break;
                    };
                    let line = std::str::from_utf8(&self.buf[pos..pos + end])
                        .expect("an ASCII chunk size");
                    let size = usize::from_str_radix(
                        line.split(';').next().unwrap_or_default().trim(),
                        16,
                    )
                    .unwrap_or_else(|_| panic!("a chunk size, not {line:?}"));
                    pos += end + 2;
                    if size == 0 {
                        self.done = true;
                    } else {
                        self.left = Some(size + 2);
                    }
                }
                Some(left) => {
                    let take = (self.buf.len() - pos).min(left);
                    if take == 0 {
                        break;
                    }
                    let data = take.min(left.saturating_sub(2));
                    out.extend_from_slice(&self.buf[pos..pos + data]);
                    pos += take;
                    self.left = (left > take).then_some(left - take);
                }
            }
        }
        self.buf.drain(..pos);
        out
    }
}

// ---------------------------------------------------------------- SSE

/// What an SSE stream carries, as an `EventSource` would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A comment line (`:…`), the text after the colon.
    Comment(String),
    /// A `retry:` field, in milliseconds.
    Retry(u64),
    /// A dispatched event (a blank line after fields).
    Event(SseEvent),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    /// The `data:` lines joined with LF, as `MessageEvent.data`; `None`
    /// without any `data:` line.
    pub data: Option<String>,
    pub data_lines: usize,
}

impl SseEvent {
    pub fn data(&self) -> &str {
        self.data
            .as_deref()
            .unwrap_or_else(|| panic!("no data in {self:?}"))
    }
}

/// The event-stream parser of the HTML specification: lines end at CRLF,
/// LF or CR; one space after the colon is dropped; `data:` lines join with
/// LF. Unlike `EventSource` it also reports events without data.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
    current: SseEvent,
    fields: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        let mut items = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                start = i + 1;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                self.line.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.line);
                self.field(&line, &mut items);
                self.after_cr = b == b'\r';
                start = i + 1;
            }
        }
        self.line.extend_from_slice(&bytes[start..]);
        items
    }

    fn field(&mut self, line: &[u8], items: &mut Vec<SseItem>) {
        let line = std::str::from_utf8(line).unwrap_or_else(|e| panic!("{e} in SSE line {line:?}"));
        if line.is_empty() {
            if std::mem::take(&mut self.fields) {
                items.push(SseItem::Event(std::mem::take(&mut self.current)));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(SseItem::Comment(comment.to_owned()));
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "retry" => {
                if let Ok(ms) = value.parse() {
                    items.push(SseItem::Retry(ms));
                }
            }
            "id" => {
                self.current.id = Some(value.to_owned());
                self.fields = true;
            }
            "event" => {
                self.current.event = Some(value.to_owned());
                self.fields = true;
            }
            "data" => {
                match &mut self.current.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.current.data = Some(value.to_owned()),
                }
                self.current.data_lines += 1;
                self.fields = true;
            }
            _ => {}
        }
    }
}

/// Connects with a receive buffer of at most `bytes` (a client that reads
/// slowly fills it quickly).
pub async fn small_socket(addr: SocketAddr, bytes: u32) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(bytes).unwrap();
    timeout(T, socket.connect(addr))
        .await
        .expect("connect within T")
        .expect("connect")
}

/// An open SSE stream.
#[derive(Debug)]
pub struct Sse {
    stream: TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    chunks: Dechunk,
    parser: SseParser,
    items: VecDeque<SseItem>,
    ended: bool,
    /// Every body byte received so far.
    pub raw: Vec<u8>,
    /// The server closed the connection before the stream's last chunk.
    pub cut: bool,
}

/// `GET path` as an SSE stream; the response must be a 200 stream.
pub async fn sse_open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Sse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    send_request(&mut stream, "GET", path, headers, b"").await;
    Sse::read(stream).await
}

impl Sse {
    /// Reads the response head of a request already sent on `stream`.
    pub async fn read(mut stream: TcpStream) -> Sse {
        let (status, headers, rest) = read_head(&mut stream).await;
        assert_eq!(
            status,
            200,
            "an SSE stream answers 200: {headers:?} {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert!(
            header(&headers, "transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked")),
            "a stream is chunked: {headers:?}"
        );
        let mut sse = Sse {
            stream,
            status,
            headers,
            chunks: Dechunk::default(),
            parser: SseParser::default(),
            items: VecDeque::new(),
            ended: false,
            raw: Vec::new(),
            cut: false,
        };
        sse.take(&rest);
        sse
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    fn take(&mut self, bytes: &[u8]) {
        let body = self.chunks.push(bytes);
        self.raw.extend_from_slice(&body);
        self.items.extend(self.parser.push(&body));
        if self.chunks.done {
            self.ended = true;
        }
    }

    /// The next item; `Ok(None)`: the stream ended cleanly; `Err(())`: the
    /// connection closed (or failed) before the stream's last chunk.
    async fn next_or_closed(&mut self) -> Result<Option<SseItem>, ()> {
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(item) = self.items.pop_front() {
                return Ok(Some(item));
            }
            if self.ended {
                return Ok(None);
            }
            match self.stream.read(&mut buf).await {
                Ok(n) if n > 0 => self.take(&buf[..n]),
                _ => return Err(()),
            }
        }
    }

    async fn next_item(&mut self) -> Option<SseItem> {
        self.next_or_closed()
            .await
            .expect("the connection closed before the stream's last chunk")
    }

    /// The next item within [`T`], or `None` when the stream ended, cleanly
    /// or cut off by the server (`cut` tells which).
    pub async fn next_or_cut(&mut self) -> Option<SseItem> {
        let next = timeout(T, self.next_or_closed())
            .await
            .expect("an SSE item or the end within T");
        next.unwrap_or_else(|()| {
            self.cut = true;
            None
        })
    }

    /// The next item within `within`; `Ok(None)`: the stream ended cleanly.
    pub async fn next_within(&mut self, within: Duration) -> Result<Option<SseItem>, Elapsed> {
        timeout(within, self.next_item()).await
    }

    /// The next item within [`T`]; `None`: the stream ended cleanly.
    pub async fn next(&mut self) -> Option<SseItem> {
        self.next_within(T).await.expect("an SSE item within T")
    }

    /// The next event, skipping comments and `retry:`.
    pub async fn event(&mut self) -> SseEvent {
        loop {
            match self.next().await {
                Some(SseItem::Event(e)) => return e,
                Some(_) => {}
                None => panic!("the stream ended, an event was expected"),
            }
        }
    }

    /// No event within `within` (comments and `retry:` are fine) and the
    /// stream goes on.
    pub async fn quiet(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.next_item()).await {
                Err(_) => return,
                Ok(Some(SseItem::Comment(_) | SseItem::Retry(_))) => {}
                Ok(other) => panic!("expected nothing, got {other:?}"),
            }
        }
    }

    /// The stream ends cleanly (its last chunk) within [`T`], with nothing
    /// but comments before.
    pub async fn end(&mut self) {
        loop {
            match self.next().await {
                None => return,
                Some(SseItem::Comment(_)) => {}
                Some(other) => panic!("expected the end of the stream, got {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------- WebSocket

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket; on refusal returns the status and body.
pub async fn ws_try(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, (u16, String)> {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("a ws:// URL");
    for (k, v) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
            HeaderValue::from_str(v).expect("a header value"),
        );
    }
    match timeout(T, tokio_tungstenite::connect_async(request))
        .await
        .expect("a handshake within T")
    {
        Ok((ws, response)) => {
            assert_eq!(response.status(), 101);
            Ok(ws)
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Err((response.status().as_u16(), body.into_owned()))
        }
        Err(e) => panic!("WebSocket handshake with {path}: {e}"),
    }
}

/// Opens a WebSocket that must be accepted.
pub async fn ws_open(addr: SocketAddr, path: &str) -> Ws {
    ws_try(addr, path, &[])
        .await
        .unwrap_or_else(|(status, body)| panic!("{path}: refused with {status}: {body}"))
}

/// The status a refused WebSocket handshake gets.
pub async fn ws_refused(addr: SocketAddr, path: &str) -> (u16, String) {
    match ws_try(addr, path, &[]).await {
        Ok(_) => panic!("{path}: the upgrade was accepted"),
        Err(refusal) => refusal,
    }
}

/// The next message other than a ping or pong, within [`T`].
pub async fn ws_next(ws: &mut Ws) -> Message {
    loop {
        match timeout(T, ws.next())
            .await
            .expect("a WebSocket message within T")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(m)) => return m,
            Some(Err(e)) => panic!("WebSocket error: {e}"),
            None => panic!("the WebSocket ended"),
        }
    }
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Message::Text(t) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn ws_json(ws: &mut Ws) -> serde_json::Value {
    let text = ws_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The next message must be a close frame: returns its code, then lets the
/// close handshake finish.
pub async fn ws_close_code(ws: &mut Ws) -> u16 {
    let code = match ws_next(ws).await {
        Message::Close(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    };
    // Reading on sends our reply; the server then ends the connection.
    let _ = timeout(T, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    code
}

/// No message but pings and pongs within `within`.
pub async fn ws_quiet(ws: &mut Ws, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected nothing, got {other:?}"),
        }
    }
}

/// A WebSocket handshake by hand: the socket after a 101, and any bytes
/// read past the response head.
pub async fn raw_upgrade(addr: SocketAddr, path: &str) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let headers = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "WebSocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    send_request(&mut stream, "GET", path, &headers, b"").await;
    let (status, headers, rest) = read_head(&mut stream).await;
    assert_eq!(status, 101, "{headers:?}");
    assert_eq!(
        header(&headers, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "the accept key of RFC 6455's example"
    );
    (stream, rest)
}

/// The JSON envelope a publication should travel in (WebSocket JSON mode,
/// long-poll messages), built here independently of the engine's encoder.
#[allow(dead_code)]
pub fn envelope(p: &Publication) -> serde_json::Value {
    let mut v = serde_json::json!({
        "channel": &*p.channel,
        "id": p.id.to_string(),
        "event": p.event.as_deref(),
        "data": p.data_text(),
    });
    if !p.text {
        v["encoding"] = "base64".into();
    }
    v
}
