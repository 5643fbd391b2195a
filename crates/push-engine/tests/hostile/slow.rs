//! Slow peers that exist today's settings can end: a WebSocket peer that
//! trickles a frame that never completes, or sends nothing, is dropped as
//! silent after about two `push.keepalive` intervals (only whole messages,
//! pongs included, count as life). The slow HTTP heads and bodies that
//! need a header or body timeout are in `tests/slowloris.rs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use crate::harness::*;
use crate::wsraw::*;

/// A case: its name, the first bytes, then the pieces repeated.
type Trickle = (&'static str, Vec<u8>, Vec<Vec<u8>>);

const KEEPALIVE: Duration = Duration::from_millis(300);

/// Opens `/ws/pub`, writes `first`, then the `then` pieces over and over,
/// one per `every`, until the engine ends the connection; checks the
/// sentinel meanwhile. Returns the pings received before the end.
async fn trickle(
    server: &Server,
    sentinel: &mut Sentinel,
    name: &str,
    first: Vec<u8>,
    then: Vec<Vec<u8>>,
    every: Duration,
) -> usize {
    let (stream, _) = raw_upgrade(server.addr, "/ws/pub").await;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(&first).await.is_err() {
            return;
        }
        for piece in then.iter().cycle() {
            if wr.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
    sentinel.check(server, name).await;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(T, rd.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{name}: not dropped within {T:?}"))
        {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let frames = server_frames(&mut raw);
    assert!(
        frames.iter().all(|f| f.opcode == PING),
        "{name}: only pings before the drop, no close frame: {frames:?}"
    );
    frames.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_websocket_peers_are_dropped_as_silent() {
    let server = Server::start_with(|c| {
        c.keepalive = KEEPALIVE;
        c.client_publish = push_engine::config::Patterns::All;
    })
    .await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("slow");
    let key = Some([1, 2, 3, 4]);
    let header = frame_len(true, 0, TEXT, key, b"", 1000);
    let cases: Vec<Trickle> = vec![
        (
            "a frame header one byte at a time",
            Vec::new(),
            header.iter().map(|b| vec![*b]).collect(),
        ),
        (
            "a 1000-byte frame one byte at a time",
            header.clone(),
            vec![vec![b'x']],
        ),
        (
            "empty fragments that never end",
            frame_raw(false, 0, TEXT, key, b""),
            vec![frame_raw(false, 0, CONT, key, b"")],
        ),
        ("nothing at all", Vec::new(), vec![Vec::new()]),
    ];
    for (name, first, then) in cases {
        tally.case(name);
        let pings = trickle(&server, &mut sentinel, name, first, then, KEEPALIVE / 6).await;
        // The silent-peer check runs at a keep-alive tick after two
        // intervals without a message: pings went out before it.
        assert!(pings >= 1, "{name}: dropped before any keep-alive");
        sentinel.after(&server, name).await;
    }
    tally.done();
}
