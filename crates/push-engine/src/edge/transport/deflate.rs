//! permessage-deflate (RFC 7692) on push's WebSockets, `push.ws_compression`.
//!
//! Negotiated with `server_no_context_takeover` and
//! `client_no_context_takeover`: every message is compressed on its own,
//! so the engine compresses a publication **once** and every subscriber of
//! the channel is sent the same compressed frame
//! ([`crate::message::Publication::shared_frame`]) — compression costs
//! nothing per subscriber. Messages shorter than
//! `push.ws_compression_min_size`, or that deflate does not shrink, go out
//! uncompressed (the RSV1 bit is per message).
//!
//! tungstenite, which reads the client's frames, knows no extension: the
//! client's compressed messages are inflated below it ([`super::inflate`]).
//!
//! Offers push cannot honour are declined, not half-accepted: a
//! `server_max_window_bits` below 15 (the pure-Rust deflate always uses a
//! 32 KB window), unknown or repeated parameters. The connection then
//! goes on uncompressed.

use axum::http::{header, HeaderMap};
use flate2::{Compress, Compression, FlushCompress};

/// The bytes deflate appends to a sync-flushed message, which the
/// extension leaves off the wire (RFC 7692 7.2.1).
pub(crate) const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The `Sec-WebSocket-Extensions` answer accepting the first
/// permessage-deflate offer push can honour, if any.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(accept)
}

/// One offer: `permessage-deflate; param[=value]; …`.
fn accept(offer: &str) -> Option<String> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut answer =
        String::from("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    let mut seen: Vec<String> = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => {}
            // Accepting it means answering it, with this value or less.
            ("server_max_window_bits", Some("15")) => {
                answer.push_str("; server_max_window_bits=15")
            }
            // The client may use a smaller window: inflating with 32 KB
            // reads any.
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(v))
                if v.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b)) => {}
            _ => return None,
        }
        seen.push(name);
    }
    Some(answer)
}

/// `payload` deflated as one message (without the sync tail), if that is
/// shorter than the payload itself.
pub(crate) fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let mut deflate = Compress::new(Compression::default(), false);
    // Room for the worst case (stored blocks) in one call, usually.
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 16 + 64);
    // Each round at least doubles the room: a few rounds suffice.
    for _ in 0..16 {
        let input = payload.get(deflate.total_in() as usize..)?;
        deflate
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .ok()?;
        // With input consumed and room left over, the flush is complete.
        if deflate.total_in() as usize == payload.len() && out.len() < out.capacity() {
            if !out.ends_with(&TAIL) {
                return None;
            }
            out.truncate(out.len() - TAIL.len());
            return (out.len() < payload.len()).then_some(out);
        }
        out.reserve(out.capacity());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn offer(v: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, v.parse().unwrap());
        negotiate(&h)
    }

    const PLAIN: &str =
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

    #[test]
    fn offers_are_accepted_as_browsers_make_them_and_declined_when_push_cannot_honour_them() {
        // Chromium's and Firefox's offer.
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits").as_deref(),
            Some(PLAIN)
        );
        assert_eq!(offer("permessage-deflate").as_deref(), Some(PLAIN));
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=15").as_deref(),
            Some(&*format!("{PLAIN}; server_max_window_bits=15"))
        );
        // A smaller server window cannot be honoured: the next offer is.
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=10, permessage-deflate").as_deref(),
            Some(PLAIN)
        );
        assert_eq!(offer("permessage-deflate; server_max_window_bits=10"), None);
        assert_eq!(offer("permessage-deflate; client_max_window_bits=7"), None);
        assert_eq!(offer("permessage-deflate; x-unknown"), None);
        assert_eq!(
            offer("permessage-deflate; client_no_context_takeover; client_no_context_takeover"),
            None
        );
        assert_eq!(offer("x-webkit-deflate-frame"), None);
        assert_eq!(negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn a_compressed_message_inflates_to_the_payload_and_short_ones_stay_plain() {
        let payload = "{\"price\": 42, \"symbol\": \"ACME\"} ".repeat(20);
        let packed = compress(payload.as_bytes()).expect("repetitive text shrinks");
        assert!(packed.len() < payload.len() / 4, "{}", packed.len());
        let mut input = packed.clone();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(payload.len() + 16);
        Decompress::new(false)
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, payload.as_bytes());

        assert_eq!(compress(b"hi"), None, "deflate does not shrink 2 bytes");
        assert_eq!(compress(b""), None);
        // Incompressible bytes of some size: not sent compressed.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                // xorshift64
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(compress(&noise), None);
    }
}
