//! Mercure 1.0 access tokens' claims (`edge/mercure/details.rs`) and URL
//! patterns (`edge/mercure/pattern.rs`): any payload is refused or read
//! without a panic, and one that is read names the hub in `aud` and
//! expires after now; the first line of the input compiled as a URL
//! pattern (absolute, or relative to the hub) matches the rest as a topic
//! without a panic, and a pattern matches its own literal text when it
//! holds no special character.
//!
//! A panic inside the `urlpattern` crate is caught by `Pattern` (the
//! engine takes it as an invalid pattern or no match), so it does not end
//! the run; a panic anywhere else does (libFuzzer's hook). The crate has
//! such panics: `https://example.c]` underflows its IPv6 bracket depth
//! (an overflow check of debug builds; release builds wrap).
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use push_engine::edge::mercure::details::{read, Resource};
use push_engine::edge::mercure::pattern::Pattern;

#[derive(serde::Deserialize)]
struct Claims {
    aud: serde_json::Value,
}

const HUB: &str = "https://hub.example/.well-known/mercure";
const NOW: f64 = 1_700_000_000.0;

/// Lets panics of the `urlpattern` crate unwind to `Pattern`'s
/// `catch_unwind`; every other panic goes to libFuzzer's hook (abort).
fn let_urlpattern_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let theirs = info
                .location()
                .is_some_and(|l| l.file().contains("/urlpattern-"));
            if !theirs {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_urlpattern_unwind();
    let audiences = [HUB.to_owned()];
    let resource = Resource {
        issuer: "",
        audiences: &audiences,
        base: HUB,
    };
    if let Ok(granted) = read(data, &resource, NOW, 5.0) {
        // The claims read (serde skips the others without checking them
        // all: a lone surrogate escape there is not refused).
        let claims: Claims = serde_json::from_slice(data).expect("read only JSON");
        let aud = &claims.aud;
        assert!(
            aud == HUB || aud.as_array().is_some_and(|a| a.iter().any(|v| v == HUB)),
            "aud {aud}"
        );
        assert!(NOW < granted.exp + 5.0, "exp {}", granted.exp);
        for s in granted.publish.iter().chain(&granted.subscribe) {
            let _ = s.matches("https://example.com/books/1");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, topic) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(p) = Pattern::parse(pattern, HUB) {
        assert_eq!(p.text(), pattern);
        let _ = p.matches(topic);
        // A path (not `//host`, which names a host) of plain characters.
        let literal = pattern.starts_with('/')
            && !pattern.starts_with("//")
            && pattern
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-');
        if literal {
            assert!(p.matches(pattern), "{pattern:?} matches itself");
        }
    }
});
