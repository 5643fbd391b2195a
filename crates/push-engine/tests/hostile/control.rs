//! Control frames: close frames with codes a peer may not send (answered
//! with 1002), a 1-byte payload (dropped), an invalid UTF-8 reason (1007);
//! ping and pong floods (each ping answered — tungstenite keeps at most one
//! pong pending and the write buffer is bounded — or, for a peer that
//! stops reading, dropped by the write-stall guard); control frames
//! between fragments, and frames after a close.

use tokio::io::AsyncWriteExt;

use crate::common::*;
use crate::frames::server;
use crate::harness::*;
use crate::wsraw::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frames_and_control_frames() {
    let server = server().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("control");
    // Codes a peer must not send (RFC 6455 7.4): answered with 1002.
    let mut cases: Vec<Case> = [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ]
    .into_iter()
    .map(|code| {
        let name = format!("close code {code}");
        Case::ws(name, close_frame(code, b""), WsEnd::Close(1002))
    })
    .collect();
    // Codes a peer may send: echoed.
    cases.extend(
        [1000u16, 1001, 1003, 1007, 1011, 3000, 4000, 4999].map(|code| {
            let name = format!("close code {code} echoed");
            Case::ws(name, close_frame(code, b"bye"), WsEnd::Close(code))
        }),
    );
    cases.extend([
        Case::ws(
            "close with a 1-byte payload",
            frame(CLOSE, &[3]),
            WsEnd::Dropped,
        ),
        Case::ws(
            "close with an empty payload",
            frame(CLOSE, b""),
            WsEnd::Close(1005),
        ),
        Case::ws(
            "close reason not UTF-8",
            close_frame(1000, b"\xff\xfe"),
            WsEnd::Close(1007),
        ),
        Case::ws(
            "close reason of 123 bytes",
            close_frame(1000, &[b'r'; 123]),
            WsEnd::Close(1000),
        ),
        Case::ws(
            "data after the close",
            [close_frame(1000, b""), frame(TEXT, b"late")].concat(),
            WsEnd::Close(1000),
        ),
        Case::ws(
            "close twice",
            [close_frame(1000, b""), close_frame(1001, b"")].concat(),
            WsEnd::Close(1000),
        ),
    ]);
    // Allowed: a ping between fragments is answered, the message completes.
    let key = Some([5, 5, 5, 5]);
    let between = [
        frame_raw(false, 0, TEXT, key, b"he"),
        frame(PING, b"mid"),
        frame_raw(false, 0, CONT, key, b"ll"),
        frame_raw(true, 0, CONT, key, b"o"),
    ]
    .concat();
    let pong_between = [
        frame_raw(false, 0, BINARY, key, b"a"),
        frame(PONG, b"x"),
        frame_raw(true, 0, CONT, key, b"b"),
    ]
    .concat();
    let empty_fragments = [
        frame_raw(false, 0, TEXT, key, b""),
        frame_raw(false, 0, CONT, key, b""),
        frame_raw(true, 0, CONT, key, b"z"),
    ]
    .concat();
    let long_form = frame_len(true, 0, TEXT, key, b"short", 5);
    let mut non_minimal = vec![long_form[0], 0x80 | 126, 0, 5];
    non_minimal.extend_from_slice(&long_form[2..]);
    cases.extend([
        Case::ws_ok(
            "ping between fragments",
            between,
            &[(PONG, b"mid"), (TEXT, b"hello")],
        ),
        Case::ws_ok(
            "unsolicited pong between fragments",
            pong_between,
            &[(BINARY, b"ab")],
        ),
        Case::ws_ok("empty text message", frame(TEXT, b""), &[(TEXT, b"")]),
        Case::ws_ok("empty fragments", empty_fragments, &[(TEXT, b"z")]),
        Case::ws_ok(
            "length in a longer form than needed",
            non_minimal,
            &[(TEXT, b"short")],
        ),
        Case::ws_ok(
            "ping of 125 bytes",
            frame(PING, &[b'q'; 125]),
            &[(PONG, &[b'q'; 125])],
        ),
    ]);
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_pong_floods() {
    let server = server().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("floods");
    // 10,000 pings in one burst: each answered, or its pong replaced by a
    // later one while unsent (at most one is pending); the last ping's
    // pong comes last, and the connection goes on.
    for (name, size) in [
        ("10,000 empty pings", 0usize),
        ("10,000 pings of 125 bytes", 125),
    ] {
        tally.case(name);
        let mut ws = RawWs::open(server.addr, "/ws/pub").await;
        let mut burst = Vec::new();
        for i in 0..10_000u32 {
            let mut payload = vec![b'.'; size];
            if size >= 4 {
                payload[..4].copy_from_slice(&i.to_be_bytes());
            }
            burst.extend(frame(PING, &payload));
        }
        ws.send(&burst).await;
        ws.send(&frame(TEXT, b"after the flood")).await;
        let mut pongs = 0;
        let last = loop {
            let f = ws
                .next_frame()
                .await
                .unwrap_or_else(|| panic!("{name}: closed"));
            match f.opcode {
                PONG => {
                    pongs += 1;
                    if size >= 4 {
                        assert_eq!(f.payload.len(), size, "{name}");
                    }
                }
                _ => break f,
            }
        };
        assert!((1..=10_000).contains(&pongs), "{name}: {pongs} pongs");
        assert_eq!(
            (last.opcode, &last.payload[..]),
            (TEXT, &b"after the flood"[..]),
            "{name}"
        );
        ws.send(&close_frame(1000, b"")).await;
        assert_eq!(ws.end().await, WsEnd::Close(1000), "{name}");
        sentinel.after(&server, name).await;
    }
    let name = "10,000 unsolicited pongs";
    tally.case(name);
    let mut ws = RawWs::open(server.addr, "/ws/pub").await;
    let burst: Vec<u8> = (0..10_000).flat_map(|_| frame(PONG, b"p")).collect();
    ws.send(&burst).await;
    ws.send(&frame(TEXT, b"still here")).await;
    let f = ws.next_frame().await.expect("an echo");
    assert_eq!(
        (f.opcode, &f.payload[..]),
        (TEXT, &b"still here"[..]),
        "{name}"
    );
    drop(ws);
    sentinel.after(&server, name).await;
    // A peer that floods pings and never reads: its pongs fill the socket,
    // the writes stall, and it is dropped within two keep-alives (the
    // engine's own ping cannot be written in time, or the stall guard
    // fails the write) — the others are served meanwhile.
    let name = "ping flood from a peer that never reads";
    tally.case(name);
    let mut stream = small_socket(server.addr, 4096).await;
    stream
        .write_all(b"GET /ws/pub HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .unwrap();
    let ping = frame(PING, &[b'f'; 125]);
    let burst: Vec<u8> = (0..256).flat_map(|_| ping.clone()).collect();
    let flood = async {
        loop {
            if stream.write_all(&burst).await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(T, flood)
        .await
        .unwrap_or_else(|_| panic!("{name}: still connected after {T:?}"));
    sentinel.check(&server, name).await;
    sentinel.after(&server, name).await;
    tally.done();
}
