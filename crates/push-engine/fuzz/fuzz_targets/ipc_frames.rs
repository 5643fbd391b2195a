//! The local socket's frames (`ipc/server.rs` `read_frame`, `ipc/payload.rs` `parse_publish`,
//! `parse_publish_from`, `parse_wait`; `ipc/mod.rs` `Reader`), read from a stream of bytes as a
//! worker could send them: every frame read is one the protocol can write,
//! and every request parsed writes back to the same payload.
#![no_main]

use std::sync::OnceLock;

use bytes::{BufMut, Bytes};
use libfuzzer_sys::fuzz_target;
use push_engine::edge::pusher::channels::valid_socket_id;
use push_engine::hub::Cursor;
use push_engine::ipc::{self, server, Reader};

const MAX: usize = 4096 + ipc::FRAME_OVERHEAD;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let mut rest = data;
        loop {
            let before = rest;
            let (kind, payload) = match server::read_frame(&mut rest, MAX).await {
                Ok(Some(frame)) => frame,
                Ok(None) | Err(_) => return,
            };
            let used = &before[..before.len() - rest.len()];
            assert!(payload.len() < MAX);
            // The frame writes back to exactly the bytes read.
            let again = ipc::frame(kind, |b| b.put_slice(&payload));
            assert_eq!(&again[..], used);
            check_request(kind, payload);
        }
    });
});

fn check_request(kind: u8, payload: Bytes) {
    match kind {
        ipc::PUBLISH => {
            if let Ok((channel, msg)) = ipc::payload::parse_publish(payload.clone()) {
                let again = ipc::frame(ipc::PUBLISH, |b| {
                    ipc::put_str(b, channel.as_bytes());
                    ipc::put_str(b, msg.event.as_deref().unwrap_or("").as_bytes());
                    b.put_slice(&msg.data);
                });
                assert_eq!(&again[5..], &payload[..]);
            }
        }
        ipc::PUBLISH_FROM => {
            // Only a valid socket id passes, and it writes back to the
            // same payload (flags, channel, event, origin, data).
            if let Ok((channel, msg)) = ipc::payload::parse_publish_from(payload.clone()) {
                let origin = msg.origin.as_ref().map(|o| o.connection.clone());
                assert!(origin.is_some_and(|o| valid_socket_id(&o)));
                let again = ipc::publish_frame(&channel, &msg);
                assert_eq!(&again[5..], &payload[..]);
            }
        }
        ipc::WAIT => {
            if let Ok((channel, cursor, timeout)) = ipc::payload::parse_wait(payload.clone()) {
                let again = ipc::frame(ipc::WAIT, |b| {
                    ipc::put_str(b, channel.as_bytes());
                    match cursor {
                        Cursor::Live => b.put_u8(0),
                        Cursor::After(id) => {
                            b.put_u8(1);
                            ipc::put_id(b, id);
                        }
                    }
                    b.put_u32(timeout.as_millis() as u32);
                });
                // What follows the fields is ignored.
                assert_eq!(&again[5..], &payload[..again.len() - 5]);
            }
        }
        _ => {
            // Every read is bounded by what is there.
            let mut r = Reader(payload.clone());
            let total = payload.len();
            let mut taken = 0;
            while let Ok(s) = r.str() {
                taken += 1 + s.len();
            }
            assert!(taken <= total);
            let mut r = Reader(payload);
            while r.id().is_ok() {}
            assert!(r.rest().len() < 16);
        }
    }
}
