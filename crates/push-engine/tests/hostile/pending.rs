//! Cases the battery adds once the settings they test exist, kept here by
//! name so they are not forgotten. None of them is counted in
//! [`crate::FLOORS`].
//!
//! The slow HTTP cases need a header (and body) read timeout and the
//! per-IP limits; the token faults need signed subscriptions (`?token=`,
//! the cookie, `Authorization: Bearer`). Each case must get its exact
//! refusal with the sentinel checked after it, as every other family.

/// Slow and greedy peers, for the header timeout and the limits.
pub const SLOWLORIS: &[&str] = &[
    "connect, send nothing: closed after the header timeout",
    "GET / head one byte per interval: closed after the header timeout",
    "GET /ws/{c} head one byte per interval",
    "GET /sse/{c} head one byte per interval",
    "GET /poll/{c} head one byte per interval",
    "POST /publish/{c} head one byte per interval",
    "GET /health head one byte per interval",
    "GET /metrics head one byte per interval",
    "a whole head but the last blank line, then a stall",
    "a keep-alive connection idle between two requests",
    "POST /publish body shorter than Content-Length, then a stall: 408 or closed",
    "POST /publish chunked body, one chunk per interval",
    "a head just under the header size limit (accepted) and just over (431)",
    "connections from one IP beyond the per-IP limit: refused, others kept",
    "connections beyond the total limit: refused, the sentinel kept",
    "long-polls waiting from one IP beyond the limit",
    "a WebSocket client publishing faster than the publish rate",
];

/// Token faults, on each of `?token=`, the cookie and `Bearer`, and on
/// each transport (ws, sse, poll).
pub const TOKEN_FAULTS: &[&str] = &[
    "no token for a protected channel",
    "a token for another channel",
    "an expired token",
    "a token not valid yet",
    "a token whose signature is changed by one byte",
    "a token signed with another key",
    "alg none",
    "an algorithm the engine does not use",
    "two parts instead of three",
    "four parts",
    "not base64url",
    "a header or payload that is not JSON",
    "a payload that is JSON but not an object",
    "channels of the wrong type (a string, a number)",
    "10,000 channels in one token",
    "a 100 KB token",
    "NUL or non-ASCII bytes in the token",
    "an exp that overflows (1e30, negative)",
    "different tokens in the query, the cookie and the header",
    "an empty Bearer, a scheme other than Bearer",
    "two Authorization headers",
    "a malformed Cookie header",
];

#[test]
fn pending_cases_are_listed() {
    println!(
        "hostile pending (not counted): {} slow, {} token",
        SLOWLORIS.len(),
        TOKEN_FAULTS.len()
    );
    assert!(!SLOWLORIS.is_empty() && !TOKEN_FAULTS.is_empty());
}
