//! HMAC-SHA256 signatures written in hex, as protocol adapters' own auth
//! uses them (Pusher's channel auth and HTTP API): signing, and checking
//! in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn mac(secret: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(message);
    mac
}

/// `hex(HMAC_SHA256(secret, message))`, lower case.
pub fn sign_hex(secret: &[u8], message: &[u8]) -> String {
    let bytes = mac(secret, message).finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for b in bytes.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `signature` (hex, either case) is `message`'s under `secret`,
/// compared in constant time.
pub fn verify_hex(secret: &[u8], message: &[u8], signature: &str) -> bool {
    let Some(raw) = unhex(signature) else {
        return false;
    };
    mac(secret, message).verify_slice(&raw).is_ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pusher_documentation_example() {
        // https://pusher.com/docs/channels/library_auth_reference/auth-signatures/
        let sig = sign_hex(b"7ad3773142a6692b25b8", b"1234.1234:private-foobar");
        assert_eq!(
            sig,
            "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert!(verify_hex(
            b"7ad3773142a6692b25b8",
            b"1234.1234:private-foobar",
            &sig
        ));
        assert!(verify_hex(
            b"7ad3773142a6692b25b8",
            b"1234.1234:private-foobar",
            &sig.to_uppercase()
        ));
        assert!(!verify_hex(
            b"7ad3773142a6692b25b8",
            b"1234.1234:private-foobaz",
            &sig
        ));
        assert!(!verify_hex(b"k", b"m", "zz"));
        assert!(!verify_hex(b"k", b"m", &"g".repeat(64)));
    }
}
