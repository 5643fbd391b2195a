//! What the Redis broker receives on pub/sub (`broker/redis.rs` `decode`,
//! the payload `publish.lua` sends): whatever decodes encodes back to the
//! same publication, and its event name is one publishing accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use push_engine::broker::codec::decode;
use push_engine::hub::Numbered;
use push_engine::message::validate_event;

/// As publish.lua writes it: epoch, offset, kind, event, data.
fn encode(n: &Numbered) -> Vec<u8> {
    let kind = if n.binary { "b" } else { "t" };
    let event = n.event.as_deref().unwrap_or("");
    let mut b = format!("{}\n{}\n{kind}\n{event}\n", n.id.epoch, n.id.offset).into_bytes();
    b.extend_from_slice(&n.data);
    b
}

fn same(a: &Numbered, b: &Numbered) -> bool {
    a.id == b.id && a.event == b.event && a.data == b.data && a.binary == b.binary
}

fuzz_target!(|data: &[u8]| {
    if let Some(n) = decode(data) {
        if let Some(event) = &n.event {
            assert!(validate_event(event).is_ok(), "{event:?}");
        }
        let again = decode(&encode(&n)).expect("an encoded publication decodes");
        assert!(same(&n, &again), "{n:?} {again:?}");
    }
});
