//! The codec's unit tests.

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: f64 = 1_700_000_000.0;

fn token(payload: &str) -> String {
    sign(SECRET, payload.as_bytes())
}

fn check(token: &str) -> Result<Claims, TokenError> {
    verify(token, SECRET, NOW, 5.0, 4096)
}

/// A token with any header, signed properly.
fn with_header(header: &str, payload: &str) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = mac(SECRET, signed.as_bytes()).finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

const GOOD: &str = r#"{"channels":["news","user.42.*"],"publish":true,"exp":1700000100}"#;

#[test]
fn a_signed_token_round_trips() {
    let claims = check(&token(GOOD)).unwrap();
    assert_eq!(claims.channels, ["news", "user.42.*"]);
    assert!(claims.publish);
    assert_eq!(claims.exp, 1_700_000_100.0);
    assert!(claims.grants("news") && claims.grants("user.42.inbox"));
    assert!(claims.grants("user.42."));
    assert!(!claims.grants("newsx") && !claims.grants("user.43.inbox"));
}

#[test]
fn the_rfc_7519_example_shape_verifies() {
    // Header and signature as PHP's hash_hmac or any JWT library make them.
    let t = token(r#"{"channels":["a"],"exp":1700000100}"#);
    let head = t.split('.').next().unwrap();
    assert_eq!(head, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
    assert!(!check(&t).unwrap().publish, "publish defaults to false");
}

#[test]
fn minted_tokens_verify() {
    let t = mint(SECRET, &["news", "user.42.*"], false, 60, NOW + 0.7);
    let claims = check(&t).unwrap();
    assert_eq!(claims.channels, ["news", "user.42.*"]);
    assert!(!claims.publish);
    assert_eq!(claims.exp, NOW + 60.0);
    let payload = URL_SAFE_NO_PAD
        .decode(t.split('.').nth(1).unwrap())
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(v["iat"], 1_700_000_000u64);
    assert_eq!(v["publish"], false);
    assert!(check(&mint(SECRET, &["a"], true, 1, NOW - 10.0)).is_err());
}

#[test]
fn a_token_of_another_implementation_verifies() {
    // Made with Python's hmac and base64 modules alone (header members
    // in another order, a sub claim); expires in 2100.
    let t = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiIsImNoYW5uZWxzIjpbIm5ld3MiLCJ1c2VyLjQyLioiXSwicHVibGlzaCI6dHJ1ZSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9.sdL94fFl5eBd14e7hTGwxrAy9XnuMYeRA1TEiHu3ewI";
    let claims = verify(t, b"interop-secret-0123456789abcdef!", NOW, 0.0, 4096).unwrap();
    assert_eq!(claims.channels, ["news", "user.42.*"]);
    assert!(claims.publish);
    assert_eq!(claims.exp, 4_102_444_800.0);
}

#[test]
fn the_wrong_secret_or_an_altered_token_is_refused() {
    let t = token(GOOD);
    let other = verify(&t, b"another secret of 32 bytes......", NOW, 5.0, 4096);
    assert_eq!(other, Err(TokenError::Signature));
    // The payload swapped for another with the original signature.
    let parts: Vec<&str> = t.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(GOOD.replace("news", "admin"));
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(check(&tampered), Err(TokenError::Signature));
    // One character of the signature changed.
    let mut sig = parts[2].to_owned();
    let last = if sig.ends_with('A') { "B" } else { "A" };
    sig.replace_range(sig.len() - 1.., last);
    let altered = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert!(check(&altered).is_err());
    // A truncated signature.
    let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
    assert_eq!(check(&short), Err(TokenError::Signature));
}

#[test]
fn other_algorithms_are_refused() {
    for alg in ["none", "None", "HS512", "RS256", "hs256", "ES256", ""] {
        let t = with_header(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), GOOD);
        assert!(
            matches!(check(&t), Err(TokenError::Algorithm(_))),
            "{alg}: {:?}",
            check(&t)
        );
    }
    // alg none with an empty signature, as attacks send it.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(GOOD)
    );
    assert!(matches!(check(&none), Err(TokenError::Algorithm(_))));
    let missing = with_header(r#"{"typ":"JWT"}"#, GOOD);
    assert!(matches!(check(&missing), Err(TokenError::Header(_))));
    let duplicate = with_header(r#"{"alg":"none","alg":"HS256"}"#, GOOD);
    assert!(matches!(check(&duplicate), Err(TokenError::Header(_))));
}

#[test]
fn header_extensions_are_refused() {
    let crit = with_header(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, GOOD);
    assert!(matches!(check(&crit), Err(TokenError::Header(_))));
    let cty = with_header(r#"{"alg":"HS256","cty":"JWT"}"#, GOOD);
    assert!(matches!(check(&cty), Err(TokenError::Header(_))));
    let typ = with_header(r#"{"alg":"HS256","typ":"JOSE+JSON"}"#, GOOD);
    assert!(matches!(check(&typ), Err(TokenError::Header(_))));
    // No typ, and extra members such as kid, are fine.
    let plain = with_header(r#"{"alg":"HS256","kid":"k1"}"#, GOOD);
    assert!(check(&plain).is_ok());
    let array = with_header(r#"["HS256"]"#, GOOD);
    assert!(matches!(check(&array), Err(TokenError::Header(_))));
}

#[test]
fn expiry_and_not_before_with_leeway() {
    let at = |exp: f64| token(&format!(r#"{{"channels":["a"],"exp":{exp}}}"#));
    assert!(check(&at(NOW + 1.0)).is_ok());
    assert!(check(&at(NOW - 4.0)).is_ok(), "within the leeway");
    assert_eq!(check(&at(NOW - 5.0)), Err(TokenError::Expired));
    assert_eq!(check(&at(NOW - 3600.0)), Err(TokenError::Expired));
    assert_eq!(
        verify(&at(NOW - 1.0), SECRET, NOW, 0.0, 4096),
        Err(TokenError::Expired)
    );
    assert!(
        check(&at(NOW + 0.5)).is_ok(),
        "fractional dates are numbers too"
    );
    let nbf = |nbf: f64| {
        token(&format!(
            r#"{{"channels":["a"],"exp":{},"nbf":{nbf}}}"#,
            NOW + 100.0
        ))
    };
    assert_eq!(check(&nbf(NOW + 60.0)), Err(TokenError::NotYetValid));
    assert!(check(&nbf(NOW + 4.0)).is_ok(), "within the leeway");
    assert!(check(&nbf(NOW - 60.0)).is_ok());
}

#[test]
fn claims_are_checked() {
    for (payload, why) in [
        (r#"{"channels":["a"]}"#, "exp is missing"),
        (r#"{"exp":1700000100}"#, "channels is missing"),
        (r#"{"channels":["a"],"exp":"1700000100"}"#, "invalid type"),
        (r#"{"channels":"a","exp":1700000100}"#, "invalid type"),
        (
            r#"{"channels":["a b"],"exp":1700000100}"#,
            "not a channel name",
        ),
        (
            r#"{"channels":["*"],"exp":1700000100}"#,
            "not a channel name",
        ),
        (
            r#"{"channels":["a**"],"exp":1700000100}"#,
            "not a channel name",
        ),
        (r#"{"channels":[1],"exp":1700000100}"#, "invalid type"),
        (
            r#"{"channels":["a"],"exp":1700000100,"publish":1}"#,
            "invalid type",
        ),
        (
            r#"{"channels":["a"],"exp":1700000100,"iat":"now"}"#,
            "invalid type",
        ),
        (
            r#"{"channels":["a"],"exp":1700000100,"exp":1800000000}"#,
            "duplicate",
        ),
        (
            r#"{"channels":["a"],"exp":1700000100,"aud":"other"}"#,
            "aud",
        ),
        (r#"[["a"],false,1700000100]"#, "not a JSON object"),
        ("not json", "not a JSON object"),
    ] {
        match check(&token(payload)) {
            Err(TokenError::Claims(e)) => assert!(e.contains(why), "{payload}: {e}"),
            other => panic!("{payload}: {other:?}"),
        }
    }
    let aud = token(r#"{"channels":["a"],"exp":1700000100,"aud":["x","push"],"sub":"42"}"#);
    assert!(check(&aud).is_ok());
    let empty = check(&token(r#"{"channels":[],"exp":1700000100}"#)).unwrap();
    assert!(!empty.grants("a"), "an empty grant grants nothing");
}

#[test]
fn malformed_tokens_are_refused_before_parsing() {
    for t in ["", "abc", "a.b", "a.b.c.d", "...", "é.é.é"] {
        assert!(check(t).is_err(), "{t:?}");
    }
    let good = token(GOOD);
    let padded = {
        let p: Vec<&str> = good.split('.').collect();
        format!("{}=.{}.{}", p[0], p[1], p[2])
    };
    assert!(matches!(check(&padded), Err(TokenError::Malformed(_))));
    let huge = "a".repeat(5000);
    assert_eq!(check(&huge), Err(TokenError::TooLarge(4096)));
    assert_eq!(
        verify(&good, SECRET, NOW, 5.0, good.len() - 1),
        Err(TokenError::TooLarge(good.len() - 1))
    );
    assert!(verify(&good, SECRET, NOW, 5.0, good.len()).is_ok());
}

#[test]
fn patterns() {
    for ok in ["news", "user.42.*", "a*", "A-Z_0.9:@/-"] {
        assert!(valid_pattern(ok), "{ok}");
    }
    for bad in ["", "*", "a b", "a*b", "**", "a**", &"x".repeat(256)] {
        assert!(!valid_pattern(bad), "{bad}");
    }
    assert!(valid_pattern(&format!("{}*", "x".repeat(255))));
}

#[test]
fn access_tokens_are_read_only_by_readers_that_take_them() {
    for (typ, expected) in [
        (r#""at+jwt""#, Some(Typ::AccessToken)),
        (r#""application/at+jwt""#, Some(Typ::AccessToken)),
        (r#""AT+JWT""#, Some(Typ::AccessToken)),
        (r#""JWT""#, Some(Typ::Jwt)),
        (r#""application/jwt""#, Some(Typ::Jwt)),
        ("null", Some(Typ::Jwt)),
        (r#""JOSE+JSON""#, None),
        (r#""jwt+at""#, None),
        (r#""application/""#, None),
    ] {
        let t = with_header(&format!(r#"{{"alg":"HS256","typ":{typ}}}"#), GOOD);
        match (open_typed(&t, SECRET, 4096), expected) {
            (Ok((got, payload)), Some(want)) => {
                assert_eq!(got, want, "{typ}");
                assert_eq!(payload, GOOD.as_bytes());
            }
            (Err(TokenError::Header(e)), None) => assert!(e.contains("at+jwt"), "{typ}: {e}"),
            (other, _) => panic!("{typ}: {other:?}"),
        }
    }
    // push's own tokens stay plain JWTs.
    let at = with_header(r#"{"alg":"HS256","typ":"at+jwt"}"#, GOOD);
    assert_eq!(check(&at), Err(TokenError::Header("typ must be JWT")));
    assert_eq!(
        open(&at, SECRET, 4096),
        Err(TokenError::Header("typ must be JWT"))
    );
    // The signature is still checked, and the typ before it.
    assert_eq!(
        open_typed(&at, b"another secret of 32 bytes......", 4096),
        Err(TokenError::Signature)
    );
}

#[test]
fn audiences() {
    let one: Audience = serde_json::from_str(r#""https://hub.example""#).unwrap();
    assert!(one.names("https://hub.example") && !one.names("https://hub.example/"));
    let many: Audience = serde_json::from_str(r#"["a","https://hub.example"]"#).unwrap();
    assert!(many.names("https://hub.example") && many.names("a") && !many.names("b"));
    assert!(serde_json::from_str::<Audience>("42").is_err());
    assert!(serde_json::from_str::<Audience>("[1]").is_err());
}
