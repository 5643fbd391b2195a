//! permessage-deflate (`push.ws_compression`) against a real server, with
//! a client written here from RFC 7692 (tungstenite has no extension):
//! the offer browsers make is accepted with no context takeover either
//! way; a publication from `push.ws_compression_min_size` on arrives
//! compressed (RSV1), the same bytes for every subscriber, and shorter ones
//! plain; a compressed client message is inflated and published; with the
//! setting Off nothing is negotiated. The Pusher protocol's sockets alike.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use push_engine::config::Patterns;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// A client socket after the handshake, with the answer's extensions.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    extensions: Option<String>,
}

impl Client {
    async fn open(server: &Server, path: &str, offer: Option<&str>) -> Client {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let mut headers = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        if let Some(offer) = offer {
            headers.push(("Sec-WebSocket-Extensions", offer));
        }
        send_request(&mut stream, "GET", path, &headers, b"").await;
        let (status, headers, buf) = read_head(&mut stream).await;
        assert_eq!(status, 101, "{headers:?}");
        let extensions = header(&headers, "sec-websocket-extensions").map(str::to_owned);
        Client {
            stream,
            buf,
            extensions,
        }
    }

    /// The next frame: its header and payload as sent.
    async fn frame(&mut self) -> (FrameHeader, Vec<u8>) {
        loop {
            let mut c = Cursor::new(&self.buf[..]);
            if let Some((h, len)) = FrameHeader::parse(&mut c).expect("a frame header") {
                let at = c.position() as usize;
                if self.buf.len() >= at + len as usize {
                    let payload = self.buf[at..at + len as usize].to_vec();
                    self.buf.drain(..at + len as usize);
                    return (h, payload);
                }
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("a frame within 5 s")
                .expect("read");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next message's text, and whether it came compressed.
    async fn text(&mut self) -> (String, bool) {
        let (h, payload) = self.frame().await;
        assert!(h.is_final && h.opcode == OpCode::Data(Data::Text), "{h:?}");
        assert!(h.mask.is_none(), "a server frame is unmasked");
        let data = if h.rsv1 { inflate(&payload) } else { payload };
        (String::from_utf8(data).expect("UTF-8"), h.rsv1)
    }

    async fn send(&mut self, rsv1: bool, payload: &[u8]) {
        let mask = [9, 8, 7, 6];
        let h = FrameHeader {
            rsv1,
            opcode: OpCode::Data(Data::Text),
            mask: Some(mask),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        h.format(payload.len() as u64, &mut out).unwrap();
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&out).await.unwrap();
    }
}

fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity(1 << 20);
    Decompress::new(false)
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflates on its own (server_no_context_takeover)");
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    Compress::new(Compression::default(), false)
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
    out
}

const CHROMIUM: &str = "permessage-deflate; client_max_window_bits";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_arrive_compressed_once_for_every_subscriber_and_short_ones_plain() {
    let server = Server::start().await;
    let mut a = Client::open(&server, "/ws/news", Some(CHROMIUM)).await;
    let mut b = Client::open(&server, "/ws/news", Some(CHROMIUM)).await;
    assert_eq!(
        a.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    server.wait_subscribers(2).await;

    let long = "{\"headline\": \"push compresses each publication once\"} ".repeat(20);
    server.publish("news", long.clone());
    server.publish("news", "short");
    let (got, compressed) = a.text().await;
    assert_eq!(got, long);
    assert!(compressed, "from push.ws_compression_min_size (256) on");
    assert_eq!(a.text().await, ("short".to_owned(), false));

    // The second subscriber gets the same compressed bytes.
    let (hb, pb) = b.frame().await;
    assert!(hb.rsv1);
    assert_eq!(inflate(&pb), long.as_bytes());
    assert_eq!(b.text().await, ("short".to_owned(), false));
    server.publish("news", long.clone());
    let (_, pa) = a.frame().await;
    let (_, pb2) = b.frame().await;
    assert_eq!(pa, pb2, "one compressed frame, shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_client_message_is_inflated_and_published() {
    let server = Server::start_with(|c| c.client_publish = Patterns::All).await;
    let mut sender = Client::open(&server, "/ws/chat", Some(CHROMIUM)).await;
    let mut reader = ws_open(server.addr, "/ws/chat").await;
    server.wait_subscribers(2).await;

    let text = "a message a browser compressed ".repeat(12);
    sender.send(true, &deflate(text.as_bytes())).await;
    sender.send(false, b"and one it did not").await;
    assert_eq!(ws_text(&mut reader).await, text);
    assert_eq!(ws_text(&mut reader).await, "and one it did not");

    // Garbage with RSV1 set: the sender is dropped, the reader is not.
    sender.send(true, &[0xff; 32]).await;
    let mut rest = Vec::new();
    // Ok (closed) or a reset: either way it ended, within 5 s.
    let _ended = tokio::time::timeout(Duration::from_secs(5), sender.stream.read_to_end(&mut rest))
        .await
        .expect("the server ends the connection");
    server.publish("chat", "still here");
    assert_eq!(ws_text(&mut reader).await, "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_compression_off_or_an_offer_push_cannot_honour_nothing_is_negotiated() {
    let server = Server::start_with(|c| c.ws_compression = false).await;
    let mut plain = Client::open(&server, "/ws/n", Some(CHROMIUM)).await;
    assert_eq!(plain.extensions, None);
    server.wait_subscribers(1).await;
    let long = "x".repeat(1000);
    server.publish("n", long.clone());
    assert_eq!(plain.text().await, (long, false));

    let server = Server::start().await;
    let small_window = Client::open(
        &server,
        "/ws/n",
        Some("permessage-deflate; server_max_window_bits=10"),
    )
    .await;
    assert_eq!(small_window.extensions, None);
}

/// A Pusher client over [`Client`]: its frames are JSON text.
async fn pusher_event(client: &mut Client) -> (serde_json::Value, bool) {
    let (text, compressed) = client.text().await;
    (serde_json::from_str(&text).expect("JSON"), compressed)
}

async fn pusher_subscribed(server: &Server, channel: &str) -> Client {
    let mut c = Client::open(server, &pusher::path(), Some(CHROMIUM)).await;
    assert_eq!(
        c.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let (hello, _) = pusher_event(&mut c).await;
    assert_eq!(hello["event"], "pusher:connection_established");
    let subscribe = serde_json::json!({"event": "pusher:subscribe", "data": {"channel": channel}});
    // Sent compressed, as a browser does: inflated below tungstenite.
    c.send(true, &deflate(subscribe.to_string().as_bytes()))
        .await;
    let (ok, _) = pusher_event(&mut c).await;
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_sockets_negotiate_it_and_share_one_compressed_frame() {
    let server = Server::start_with(pusher::pusher_settings).await;
    let mut a = pusher_subscribed(&server, "news").await;
    let mut b = pusher_subscribed(&server, "news").await;
    server.wait_subscribers(2).await;

    let long = "{\"headline\": \"push compresses each publication once\"} ".repeat(20);
    server.publish("news", long.clone());
    server.publish("news", "short");
    let (event, compressed) = pusher_event(&mut a).await;
    assert!(compressed, "from push.ws_compression_min_size (256) on");
    assert_eq!(
        (&event["channel"], &event["data"]),
        (&"news".into(), &long.clone().into())
    );
    let (event, compressed) = pusher_event(&mut a).await;
    assert!(!compressed);
    assert_eq!(event["data"], "short");

    let (hb, pb) = b.frame().await;
    assert!(hb.rsv1);
    let (_, pa) = {
        server.publish("news", long.clone());
        a.frame().await
    };
    let (event, compressed) = pusher_event(&mut b).await;
    assert_eq!((&event["data"], compressed), (&"short".into(), false));
    let (_, pb2) = b.frame().await;
    assert_eq!(pa, pb2, "one compressed frame, shared");
    assert_eq!(inflate(&pb), inflate(&pb2));

    // Off: a Pusher socket negotiates nothing.
    let server = Server::start_with(|c| {
        pusher::pusher_settings(c);
        c.ws_compression = false;
    })
    .await;
    let plain = Client::open(&server, &pusher::path(), Some(CHROMIUM)).await;
    assert_eq!(plain.extensions, None);
}
