//! Subscription tokens (`auth/token.rs` `verify`): any string is refused
//! or accepted without a panic; a token is accepted only if it is the
//! signature of its own header and payload under the secret (so a forged
//! or altered one never passes), and what is accepted grants only channel
//! names and prefixes. The input is tried as a token, then signed as a
//! payload: correctly signed, it is refused only for its claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use push_engine::auth::token::{sign, valid_pattern, verify, TokenError};

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef0123";
const NOW: f64 = 1_700_000_000.0;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Whatever arrives as a token.
    if let Ok(claims) = verify(text, SECRET, NOW, 5.0, 4096) {
        assert!(claims.channels.iter().all(|c| valid_pattern(c)), "{claims:?}");
    }
    // The same text as a payload, signed: it verifies only as claims.
    let token = sign(SECRET, data);
    match verify(&token, SECRET, NOW, 5.0, 1 << 20) {
        Ok(claims) => assert!(claims.channels.iter().all(|c| valid_pattern(c))),
        Err(e) => assert!(
            matches!(
                e,
                TokenError::Claims(_) | TokenError::Expired | TokenError::NotYetValid
            ),
            "a correctly signed token refused for {e:?}"
        ),
    }
    // Signed with another secret: never accepted.
    assert!(verify(&token, b"another-secret-0123456789abcdef!", NOW, 5.0, 1 << 20).is_err());
});
