//! WebSocket frames after the upgrade: unmasked client frames, reserved
//! bits and opcodes, fragmented and oversized control frames, continuation
//! without a start, a new message inside a fragmented one, oversized and
//! endlessly fragmented messages. A protocol violation drops the connection
//! without a close frame (RFC 6455 7.1.7 allows either; tungstenite stops
//! reading); a message over `push.max_message_size` gets close 1009.

use push_engine::config::Patterns;

use crate::common::*;
use crate::harness::*;
use crate::wsraw::*;

/// `push.max_message_size` of these engines.
pub const MAX: usize = 1024;

/// An engine where clients may publish on `pub` (the battery's WebSocket
/// families share it).
pub async fn server() -> Server {
    Server::start_with(|c| {
        c.max_message_size = MAX;
        c.max_queue_bytes = 64 * 1024;
        c.client_publish = Patterns::List(vec!["pub".into()]);
    })
    .await
}

const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_drop_the_connection() {
    let server = server().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("frames");
    let mut cases: Vec<(String, Vec<u8>, WsEnd)> = vec![
        (
            "unmasked text".into(),
            frame_raw(true, 0, TEXT, None, b"hi"),
            WsEnd::Dropped,
        ),
        (
            "unmasked binary".into(),
            frame_raw(true, 0, BINARY, None, b"hi"),
            WsEnd::Dropped,
        ),
        (
            "unmasked ping".into(),
            frame_raw(true, 0, PING, None, b""),
            WsEnd::Dropped,
        ),
        (
            "unmasked close".into(),
            frame_raw(true, 0, CLOSE, None, &1000u16.to_be_bytes()),
            WsEnd::Dropped,
        ),
    ];
    for (rsv, label) in [
        (4, "RSV1"),
        (2, "RSV2"),
        (1, "RSV3"),
        (6, "RSV1+2"),
        (7, "RSV1+2+3"),
    ] {
        cases.push((
            format!("{label} on text"),
            frame_raw(true, rsv, TEXT, KEY, b"hi"),
            WsEnd::Dropped,
        ));
    }
    cases.push((
        "RSV1 on ping".into(),
        frame_raw(true, 4, PING, KEY, b""),
        WsEnd::Dropped,
    ));
    cases.push((
        "RSV2 on close".into(),
        frame_raw(true, 2, CLOSE, KEY, &1000u16.to_be_bytes()),
        WsEnd::Dropped,
    ));
    for opcode in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        cases.push((
            format!("reserved opcode {opcode:#x}"),
            frame(opcode, b"x"),
            WsEnd::Dropped,
        ));
    }
    for (opcode, label) in [(PING, "ping"), (PONG, "pong"), (CLOSE, "close")] {
        let payload: &[u8] = if opcode == CLOSE { &[0x03, 0xe8] } else { b"" };
        cases.push((
            format!("fragmented {label}"),
            frame_raw(false, 0, opcode, KEY, payload),
            WsEnd::Dropped,
        ));
        let mut big = vec![b'p'; 126];
        if opcode == CLOSE {
            big[..2].copy_from_slice(&1000u16.to_be_bytes());
        }
        cases.push((
            format!("126-byte {label}"),
            frame(opcode, &big),
            WsEnd::Dropped,
        ));
    }
    cases.push((
        "1000-byte ping".into(),
        frame(PING, &[b'p'; 1000]),
        WsEnd::Dropped,
    ));
    cases.push((
        "continuation without a start".into(),
        frame(CONT, b"x"),
        WsEnd::Dropped,
    ));
    cases.push((
        "open continuation without a start".into(),
        frame_raw(false, 0, CONT, KEY, b"x"),
        WsEnd::Dropped,
    ));
    for (first, second, label) in [
        (TEXT, TEXT, "text in text"),
        (TEXT, BINARY, "binary in text"),
        (BINARY, TEXT, "text in binary"),
    ] {
        let bytes = concat(&[frame_raw(false, 0, first, KEY, b"a"), frame(second, b"b")]);
        cases.push((
            format!("new message inside a fragmented one: {label}"),
            bytes,
            WsEnd::Dropped,
        ));
    }
    let cases = cases.into_iter().map(|(n, b, w)| Case::ws(n, b, w));
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_close_with_1009() {
    let server = server().await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("frames-size");
    let over = vec![b'o'; MAX + 1];
    let endless = |opcode: u8, pieces: usize| {
        let mut b = frame_raw(false, 0, opcode, KEY, b"start");
        for _ in 0..pieces {
            b.extend(frame_raw(false, 0, CONT, KEY, &[b'f'; 64]));
        }
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text over max", frame(TEXT, &over)),
        ("binary over max", frame(BINARY, &over)),
        ("64 KB ping", frame(PING, &[b'p'; 65535])),
        (
            "declared 1 GB",
            frame_len(true, 0, BINARY, KEY, b"", 1 << 30),
        ),
        (
            "declared 2^63",
            frame_len(true, 0, BINARY, KEY, b"", 1 << 63),
        ),
        (
            "declared 2^64-1",
            frame_len(true, 0, TEXT, KEY, b"", u64::MAX),
        ),
        ("fragments adding up over max", endless(TEXT, 16)),
        ("endless binary fragments", endless(BINARY, 1000)),
        ("endless text fragments", endless(TEXT, 1000)),
    ];
    let cases = cases
        .into_iter()
        .map(|(n, b)| Case::ws(n, b, WsEnd::Close(1009)));
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}
