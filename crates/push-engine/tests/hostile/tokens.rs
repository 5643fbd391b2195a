//! Token faults: every way a subscription token can be missing, wrong,
//! forged or oversized, carried in `?token=`, the `push_token` cookie and
//! `Authorization: Bearer`, on each transport (WebSocket handshake, SSE,
//! long-poll) — each with its exact refusal, and the sentinel after it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use push_engine::auth::token::{self, now};
use serde_json::{json, Value};

use crate::common::*;
use crate::harness::*;

const SECRET: &str = "hostile-secret-0123456789abcdef!";

fn sign(claims: &Value) -> String {
    token::sign(SECRET.as_bytes(), claims.to_string().as_bytes())
}

fn forge(header: &str, payload: &str, secret: &str) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Each fault: its name, the token (`None`: no token at all), the status
/// and a fragment of the reason.
fn faults() -> Vec<(&'static str, Option<String>, u16, &'static str)> {
    let exp = now() + 600.0;
    let claims = json!({ "channels": ["private.a"], "exp": exp });
    let good = sign(&claims);
    let parts: Vec<&str> = good.split('.').collect();
    let flip = |s: &str| {
        let first = if s.starts_with('A') { "B" } else { "A" };
        format!("{first}{}", &s[1..])
    };
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], flip(parts[2]));
    let widened = json!({ "channels": ["private.*"], "exp": exp }).to_string();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(widened),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let many: Vec<String> = (0..10_000).map(|i| format!("private.{i}")).collect();
    const REFUSED: &str = "signature does not match";
    vec![
        ("no token", None, 401, "a token is required"),
        (
            "a token for another channel",
            Some(sign(&json!({ "channels": ["private.b"], "exp": exp }))),
            403,
            "does not grant channel",
        ),
        (
            "a prefix grant of another prefix",
            Some(sign(&json!({ "channels": ["privately.*"], "exp": exp }))),
            403,
            "does not grant channel",
        ),
        (
            "an expired token",
            Some(sign(
                &json!({ "channels": ["private.a"], "exp": now() - 60.0 }),
            )),
            401,
            "has expired",
        ),
        (
            "a token not valid yet",
            Some(sign(
                &json!({ "channels": ["private.a"], "exp": exp, "nbf": now() + 60.0 }),
            )),
            401,
            "not valid yet",
        ),
        ("a signature changed", Some(bad_sig), 401, REFUSED),
        (
            "another key",
            Some(forge(
                HS256,
                &claims.to_string(),
                "another-secret-0123456789abcdef!!",
            )),
            401,
            REFUSED,
        ),
        ("claims changed", Some(tampered), 401, REFUSED),
        ("alg none", Some(unsigned), 401, "must be HS256"),
        (
            "alg HS512",
            Some(forge(
                r#"{"alg":"HS512","typ":"JWT"}"#,
                &claims.to_string(),
                SECRET,
            )),
            401,
            "must be HS256",
        ),
        (
            "alg RS256",
            Some(forge(
                r#"{"alg":"RS256","typ":"JWT"}"#,
                &claims.to_string(),
                SECRET,
            )),
            401,
            "must be HS256",
        ),
        (
            "two parts",
            Some(format!("{}.{}", parts[0], parts[1])),
            401,
            "not a JWT",
        ),
        (
            "four parts",
            Some(format!("{good}.{}", parts[2])),
            401,
            "not a JWT",
        ),
        (
            "not base64url",
            Some("a$b.c$d.e$f".into()),
            401,
            "base64url",
        ),
        (
            "a header that is not JSON",
            Some(forge("not json", &claims.to_string(), SECRET)),
            401,
            "header",
        ),
        (
            "claims that are not JSON",
            Some(forge(HS256, "not json", SECRET)),
            401,
            "claims",
        ),
        (
            "claims that are an array",
            Some(forge(HS256, "[1,2,3]", SECRET)),
            401,
            "claims",
        ),
        (
            "channels as a string",
            Some(sign(&json!({ "channels": "private.a", "exp": exp }))),
            401,
            "claims",
        ),
        (
            "channels as a number",
            Some(sign(&json!({ "channels": 7, "exp": exp }))),
            401,
            "claims",
        ),
        (
            "a channel pattern that is not a name",
            Some(sign(&json!({ "channels": ["private a"], "exp": exp }))),
            401,
            "channels",
        ),
        (
            "no channels",
            Some(sign(&json!({ "exp": exp }))),
            401,
            "channels is missing",
        ),
        (
            "no exp",
            Some(sign(&json!({ "channels": ["private.a"] }))),
            401,
            "exp is missing",
        ),
        (
            "exp as a string",
            Some(sign(
                &json!({ "channels": ["private.a"], "exp": "tomorrow" }),
            )),
            401,
            "claims",
        ),
        (
            "a negative exp",
            Some(sign(&json!({ "channels": ["private.a"], "exp": -1 }))),
            401,
            "has expired",
        ),
        (
            "an audience other than push",
            Some(sign(
                &json!({ "channels": ["private.a"], "exp": exp, "aud": "other" }),
            )),
            401,
            "aud",
        ),
        (
            "a token over push.max_token_size",
            Some(sign(
                &json!({ "channels": [&"private.".repeat(500)], "exp": exp }),
            )),
            401,
            "max_token_size",
        ),
        (
            "10,000 channels (a head over push.max_header_size)",
            Some(sign(&json!({ "channels": many, "exp": exp }))),
            431,
            "",
        ),
    ]
}

/// Where the token travels.
#[derive(Clone, Copy, Debug)]
enum Carrier {
    Query,
    Cookie,
    Bearer,
}

/// The request head for `path` with `token` in `carrier`.
fn request(path: &str, carrier: Carrier, token: Option<&str>) -> Vec<u8> {
    let ws = path.starts_with("/ws");
    let mut target = path.to_owned();
    let mut lines: Vec<String> = Vec::new();
    match (carrier, token) {
        (_, None) => {}
        (Carrier::Query, Some(t)) => {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str("token=");
            target.push_str(t);
        }
        (Carrier::Cookie, Some(t)) => lines.push(format!("Cookie: a=b; push_token={t}")),
        (Carrier::Bearer, Some(t)) => lines.push(format!("Authorization: Bearer {t}")),
    }
    let mut s = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n");
    if ws {
        s.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
        s.push_str("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    } else {
        s.push_str("Connection: close\r\n");
    }
    for l in lines {
        s.push_str(&l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

const PATHS: [&str; 3] = [
    "/ws/private.a",
    "/sse/private.a",
    "/poll/private.a?timeout=0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_fault_is_refused_on_every_carrier_and_transport() {
    let server = Server::start_with(|c| {
        c.set("secret", SECRET).unwrap();
        c.set("private_channels", "private.*").unwrap();
    })
    .await;
    let mut sentinel = Sentinel::open(&server).await;
    let mut tally = Tally::new("tokens");
    let mut cases: Vec<Case> = Vec::new();
    for (fault, token, status, why) in faults() {
        for carrier in [Carrier::Query, Carrier::Cookie, Carrier::Bearer] {
            if token.is_none() && !matches!(carrier, Carrier::Query) {
                continue; // "no token" is one case per transport
            }
            for path in PATHS {
                let name = format!("{fault} in {carrier:?} on {path}");
                let bytes = request(path, carrier, token.as_deref());
                cases.push(Case::http(name, bytes, Want::Status(status, why)));
            }
        }
    }
    // Carriers against each other, and malformed carriers.
    let good = sign(&json!({ "channels": ["private.a"], "exp": now() + 600.0 }));
    let mixed: Vec<(&str, Vec<String>, &str, u16, &'static str)> = vec![
        (
            "a bad query token beside a good Bearer",
            vec![format!("Authorization: Bearer {good}")],
            "token=x.y.z",
            401,
            "not a JWT",
        ),
        (
            "a bad Bearer beside a good cookie",
            vec![
                format!("Cookie: push_token={good}"),
                "Authorization: Bearer x.y.z".into(),
            ],
            "",
            401,
            "not a JWT",
        ),
        (
            "an empty Bearer",
            vec!["Authorization: Bearer ".into()],
            "",
            401,
            "a token is required",
        ),
        (
            "a Basic scheme",
            vec![format!("Authorization: Basic {good}")],
            "",
            401,
            "a token is required",
        ),
        (
            "the token in another cookie",
            vec![format!("Cookie: other={good}")],
            "",
            401,
            "a token is required",
        ),
        (
            "a cookie header without =",
            vec!["Cookie: push_token".into()],
            "",
            401,
            "a token is required",
        ),
        ("an empty token parameter", vec![], "token=", 401, ""),
    ];
    for (case, lines, query, status, why) in mixed {
        for path in ["/sse/private.a", "/poll/private.a?timeout=0"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let target = if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}{sep}{query}")
            };
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let bytes = head(&format!("GET {target} HTTP/1.1"), &refs);
            let name = format!("{case} on {path}");
            cases.push(Case::http(name, bytes, Want::Status(status, why)));
        }
    }
    // And a good token in each carrier opens the channel.
    let path = "/poll/private.a?timeout=0";
    for carrier in [Carrier::Query, Carrier::Cookie, Carrier::Bearer] {
        let name = format!("a good token in {carrier:?} on {path}");
        let bytes = request(path, carrier, Some(&good));
        cases.push(Case::http(name, bytes, Want::Status(200, "")));
    }
    run_table(&server, &mut sentinel, &mut tally, cases).await;
    tally.done();
}
