//! The local socket (`push.socket`): wrong frame kinds, lengths beyond the
//! limit, zero and truncated frames, random bytes, HELLO with a wrong
//! version, PUBLISH, WAIT and PRESENCE with garbage fields. Framing faults close only
//! that connection; a bad request inside a good frame gets an ERROR answer
//! and the connection goes on. A second worker (the real blocking client)
//! keeps publishing and waiting throughout, and what it publishes reaches
//! the sentinel subscribers.

use std::time::Duration;

use push_engine::ipc::{self, client::Client, code};
use push_engine::Outgoing;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::common::*;
use crate::harness::*;
use crate::ipcwire::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_local_socket_closes_only_that_connection() {
    let (server, path, cancel, worker, mut sentinel) = start("frames").await;
    let mut tally = Tally::new("ipc");
    let max = (MAX + ipc::FRAME_OVERHEAD) as u32;
    let version = |v: u16| frame(ipc::HELLO, &v.to_be_bytes());
    let id = |epoch: u64, offset: u64| {
        [&[1u8][..], &epoch.to_be_bytes(), &offset.to_be_bytes()].concat()
    };
    let over = vec![b'o'; MAX + 1];
    let exactly = vec![b'e'; MAX];
    let pipelined: Vec<u8> = (0..1000)
        .flat_map(|i| publish(b"pipe", b"", format!("{i}").as_bytes()))
        .collect();
    let cases: Vec<(&str, Vec<u8>, Got)> = vec![
        ("zero length", with_len(0, b""), Got::Closed),
        (
            "length beyond the limit",
            with_len(max + 1, &[ipc::STATS]),
            Got::ErrorThenClosed(code::TOO_LARGE),
        ),
        (
            "length u32::MAX",
            with_len(u32::MAX, &[ipc::STATS]),
            Got::ErrorThenClosed(code::TOO_LARGE),
        ),
        ("kind 0x00", frame(0x00, b""), Got::Closed),
        ("kind 0x09", frame(0x09, b"x"), Got::Closed),
        (
            "MERCURE_PUBLISH without a head",
            frame(ipc::MERCURE_PUBLISH, b"x"),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "MERCURE_PUBLISH with a head that is not JSON",
            frame(ipc::MERCURE_PUBLISH, b"{topics\ndata"),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            // This engine's hub is off.
            "MERCURE_PUBLISH to an engine without the hub",
            frame(ipc::MERCURE_PUBLISH, b"{\"topics\":[\"t\"]}\ndata"),
            Got::Error(code::MERCURE_OFF),
        ),
        (
            "PRESENCE truncated",
            frame(ipc::PRESENCE, b"x"),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "PRESENCE of a bad name",
            frame(ipc::PRESENCE, &s(b"a b")),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "PUBLISH_BINARY truncated",
            frame(ipc::PUBLISH_BINARY, b"x"),
            Got::Error(code::BAD_REQUEST),
        ),
        ("kind 0x7f", frame(0x7f, b""), Got::Closed),
        (
            "an answer kind (0x81)",
            frame(ipc::R_HELLO, &[0, 1, 0, 0, 0, 1]),
            Got::Closed,
        ),
        ("kind 0xff", frame(ipc::R_ERROR, b"\x01oops"), Got::Closed),
        (
            // "GET " read as a length: 1.2 GB.
            "HTTP on the socket",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Got::ErrorThenClosed(code::TOO_LARGE),
        ),
        ("HELLO version 0", version(0), Got::Error(code::BAD_REQUEST)),
        ("HELLO version 2", version(2), Got::Error(code::BAD_REQUEST)),
        (
            "HELLO version 0xffff",
            version(0xffff),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "HELLO without a version",
            frame(ipc::HELLO, b""),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "HELLO with half a version",
            frame(ipc::HELLO, b"\x00"),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "PUBLISH empty",
            frame(ipc::PUBLISH, b""),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "PUBLISH channel cut short",
            frame(ipc::PUBLISH, b"\x0aabc"),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "PUBLISH without an event",
            frame(ipc::PUBLISH, &s(b"c")),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "PUBLISH channel not UTF-8",
            publish(b"\xff\xfe", b"", b"x"),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "PUBLISH channel with a space",
            publish(b"a b", b"", b"x"),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "PUBLISH empty channel",
            publish(b"", b"", b"x"),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "PUBLISH channel with NUL",
            publish(b"a\0", b"", b"x"),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "PUBLISH event with a newline",
            publish(b"c", b"a\nb", b"x"),
            Got::Error(code::INVALID_EVENT),
        ),
        (
            "PUBLISH event not UTF-8",
            publish(b"c", b"\xff", b"x"),
            Got::Error(code::INVALID_EVENT),
        ),
        (
            "PUBLISH data over max_message_size",
            publish(b"c", b"", &over),
            Got::Error(code::TOO_LARGE),
        ),
        (
            "WAIT empty",
            frame(ipc::WAIT, b""),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT without a cursor",
            frame(ipc::WAIT, &s(b"c")),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT cursor kind 2",
            wait(b"c", &[2], Some(0)),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT cursor kind 0xff",
            wait(b"c", &[0xff], Some(0)),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT id cut short",
            wait(b"c", &[1, 0, 0, 0], None),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT without a timeout",
            wait(b"c", &[0], None),
            Got::Error(code::BAD_REQUEST),
        ),
        (
            "WAIT bad channel",
            wait(b"*", &[0], Some(0)),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "WAIT channel not UTF-8",
            wait(b"\xc3", &[0], Some(0)),
            Got::Error(code::INVALID_CHANNEL),
        ),
        (
            "WAIT timeout 0",
            wait(b"c", &[0], Some(0)),
            Got::Answers(&[ipc::R_TIMEOUT], 1),
        ),
        (
            "WAIT after the largest id",
            wait(b"c", &id(u64::MAX, u64::MAX), Some(0)),
            Got::Answers(&[ipc::R_TIMEOUT], 1),
        ),
        (
            "STATS with a payload",
            frame(ipc::STATS, b"junk"),
            Got::Answers(&[ipc::R_STATS], 1),
        ),
        (
            "HELLO twice",
            [version(1), version(1)].concat(),
            Got::Answers(&[ipc::R_HELLO], 2),
        ),
        (
            "a frame of the largest size",
            publish(b"c", b"", &exactly),
            Got::Answers(&[ipc::R_PUBLISHED], 1),
        ),
        (
            "1000 pipelined PUBLISH",
            pipelined,
            Got::Answers(&[ipc::R_PUBLISHED], 1000),
        ),
    ];
    for (name, bytes, want) in cases {
        tally.case(name);
        let mut stream = UnixStream::connect(&path).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        match want {
            Got::Closed => {
                let (got, ended) = answers(&mut stream, 1).await;
                assert!(got.is_empty() && ended, "{name}: {got:?}");
            }
            Got::Error(code) => {
                let (got, _) = answers(&mut stream, 1).await;
                let (kind, payload) = got.first().unwrap_or_else(|| panic!("{name}: no answer"));
                assert_eq!(
                    (*kind, payload[0]),
                    (ipc::R_ERROR, code),
                    "{name}: {payload:?}"
                );
                still_usable(&mut stream, name).await;
            }
            Got::ErrorThenClosed(code) => {
                let (got, ended) = answers(&mut stream, 2).await;
                assert!(ended && got.len() == 1, "{name}: {got:?}");
                assert_eq!((got[0].0, got[0].1[0]), (ipc::R_ERROR, code), "{name}");
            }
            Got::Answers(kinds, n) => {
                let (got, _) = answers(&mut stream, n).await;
                assert_eq!(got.len(), n, "{name}");
                assert!(
                    got.iter().all(|(k, _)| kinds.contains(k)),
                    "{name}: {:?}",
                    &got[..1]
                );
                still_usable(&mut stream, name).await;
            }
        }
        drop(stream);
        worker.check(&server, &mut sentinel, name).await;
    }
    cancel.cancel();
    tally.done();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_short_random_and_oversized_streams() {
    let (server, path, cancel, worker, mut sentinel) = start("streams").await;
    let mut tally = Tally::new("ipc-streams");
    // The real client publishing a message too large for a frame: the
    // engine refuses it unread, the client reports the size.
    let name = "a client publishing 1 MB";
    tally.case(name);
    let p = path.clone();
    let refused = tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(&p, Duration::from_secs(1), T).unwrap();
        c.publish("big", &Outgoing::new(vec![b'b'; 1 << 20]))
    })
    .await
    .unwrap();
    match refused {
        Err(push_engine::Error::MessageTooLarge { size, max }) => {
            assert_eq!((size, max), (1 << 20, MAX), "{name}")
        }
        other => panic!("{name}: {other:?}"),
    }
    worker.check(&server, &mut sentinel, name).await;
    // Cut short, then the end of the stream: closed, nothing left behind.
    for (name, bytes) in [
        ("half a length, then EOF", vec![0u8, 0]),
        (
            "half a payload, then EOF",
            with_len(100, &[ipc::STATS, 1, 2, 3]),
        ),
        (
            "a whole frame then half a frame, then EOF",
            [frame(ipc::STATS, b""), with_len(50, &[ipc::PUBLISH])].concat(),
        ),
    ] {
        tally.case(name);
        let mut stream = UnixStream::connect(&path).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        stream.shutdown().await.unwrap();
        let (got, ended) = answers(&mut stream, 2).await;
        assert!(
            ended && got.iter().all(|(k, _)| *k == ipc::R_STATS),
            "{name}: {got:?}"
        );
        worker.check(&server, &mut sentinel, name).await;
    }
    // Bytes during a WAIT end that connection (a worker gives up a wait by
    // closing; anything else is as good as that).
    let name = "garbage during a WAIT";
    tally.case(name);
    let mut stream = UnixStream::connect(&path).await.unwrap();
    stream
        .write_all(&wait(b"w", &[0], Some(60_000)))
        .await
        .unwrap();
    server.wait_subscribers(SENTINEL_SUBS + 1).await;
    stream.write_all(b"garbage").await.unwrap();
    let (got, ended) = answers(&mut stream, 1).await;
    assert!(got.is_empty() && ended, "{name}: {got:?}");
    worker.check(&server, &mut sentinel, name).await;
    // Random bytes (fixed seeds), then EOF: whatever the engine makes of
    // them, it answers only well-formed frames and ends the connection.
    for seed in 1..=8u64 {
        let name = format!("random bytes, seed {seed}");
        tally.case(&name);
        let mut stream = UnixStream::connect(&path).await.unwrap();
        let mut bytes = random(seed, 64 << seed);
        if seed % 2 == 0 {
            // After a valid HELLO, and with a small length first.
            bytes[..4].copy_from_slice(&(seed as u32 * 3).to_be_bytes());
            bytes.splice(0..0, frame(ipc::HELLO, &1u16.to_be_bytes()));
        }
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
        let (got, ended) = answers(&mut stream, usize::MAX).await;
        assert!(ended, "{name}");
        assert!(
            got.iter().all(|(k, _)| [
                ipc::R_HELLO,
                ipc::R_ERROR,
                ipc::R_PUBLISHED,
                ipc::R_STATS,
                ipc::R_TIMEOUT
            ]
            .contains(k)),
            "{name}: {got:?}"
        );
        worker.check(&server, &mut sentinel, &name).await;
    }
    cancel.cancel();
    tally.done();
}
