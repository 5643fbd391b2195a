//! Mercure 1.0 access tokens (draft-08, "Token Validation" and
//! "Authorization Details"): JWTs of `typ: at+jwt` (RFC 9068) whose
//! `authorization_details` claim (RFC 9396) grants actions on topics.
//!
//! Checked: `exp` (required), `nbf` (when present, both with
//! `push.token_leeway`), `aud` (a string or an array naming the hub's
//! resource identifier: `push.mercure_audience`, else the hub's URL as the
//! request names it, `http://` or `https://`), `iss` (equal to
//! `push.mercure_issuer` when that is set). Every entry of
//! `authorization_details` must be an object with a string `type`; those
//! of type `mercure` must have `actions` (a non-empty array of `publish` and
//! `subscribe`), `topics` (a non-empty array of `{"match": …, "matchType":
//! "Exact" | "URLPattern"}`, `Exact` when absent) and may have a `payload`
//! object. One bad entry refuses the whole token (no partial grant);
//! entries of other types are left alone.

use serde::Deserialize;
use serde_json::Value;

use super::topic::{valid_text, MatchType, Selector};
use crate::auth::token::{self, Audience, TokenError};

/// The claims of an access token that the hub reads.
#[derive(Deserialize)]
struct Claims {
    exp: Option<f64>,
    nbf: Option<f64>,
    iss: Option<String>,
    aud: Option<Audience>,
    authorization_details: Option<Vec<Value>>,
}

/// What an access token grants.
#[derive(Debug, Default)]
pub struct Granted {
    pub publish: Vec<Selector>,
    pub subscribe: Vec<Selector>,
    /// Its `exp`.
    pub exp: f64,
    /// The `payload` of the first entry granting `subscribe` that has one:
    /// shown in the subscription's documents.
    pub payload: Option<Value>,
}

/// Who the hub is, for checking `iss` and `aud`.
pub struct Resource<'a> {
    /// `push.mercure_issuer` (empty: `iss` is not checked).
    pub issuer: &'a str,
    /// The identifiers `aud` may name (one of them).
    pub audiences: &'a [String],
    /// The hub's URL, which relative URL patterns resolve against.
    pub base: &'a str,
}

fn invalid(why: impl Into<String>) -> TokenError {
    TokenError::Claims(why.into())
}

/// The grants of an access token's `payload` (already opened: its
/// signature and header checked), at time `now` with `leeway` seconds.
pub fn read(
    payload: &[u8],
    resource: &Resource<'_>,
    now: f64,
    leeway: f64,
) -> Result<Granted, TokenError> {
    let claims: Claims = token::claims(payload)?;
    let exp = claims
        .exp
        .ok_or_else(|| invalid("exp is missing (access tokens must expire)"))?;
    token::check_times(Some(exp), claims.nbf, now, leeway)?;
    if !resource.issuer.is_empty() && claims.iss.as_deref() != Some(resource.issuer) {
        return Err(invalid("iss is not push.mercure_issuer"));
    }
    let named = claims
        .aud
        .is_some_and(|aud| resource.audiences.iter().any(|a| aud.names(a)));
    if !named {
        return Err(invalid(format!(
            "aud does not name this hub ({})",
            resource.audiences.first().map_or("", String::as_str)
        )));
    }
    let mut granted = Granted {
        exp,
        ..Granted::default()
    };
    for (i, entry) in claims
        .authorization_details
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        detail(entry, resource.base, &mut granted)
            .map_err(|why| invalid(format!("authorization_details[{i}]: {why}")))?;
    }
    Ok(granted)
}

/// Adds what one entry grants, or says why it is invalid.
fn detail(entry: &Value, base: &str, granted: &mut Granted) -> Result<(), String> {
    let Value::Object(entry) = entry else {
        return Err("not an object".into());
    };
    match entry.get("type") {
        Some(Value::String(t)) if t == "mercure" => {}
        Some(Value::String(_)) => return Ok(()),
        _ => return Err("type is not a string".into()),
    }
    let actions = match entry.get("actions") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err("actions is not a non-empty array".into()),
    };
    let (mut publish, mut subscribe) = (false, false);
    for action in actions {
        match action.as_str() {
            Some("publish") => publish = true,
            Some("subscribe") => subscribe = true,
            _ => return Err("actions may only hold publish and subscribe".into()),
        }
    }
    let topics = match entry.get("topics") {
        Some(Value::Array(t)) if !t.is_empty() => t,
        _ => return Err("topics is not a non-empty array".into()),
    };
    if entry.get("payload").is_some_and(|p| !p.is_object()) {
        return Err("payload is not an object".into());
    }
    for topic in topics {
        let Value::Object(topic) = topic else {
            return Err("a topic matcher is not an object".into());
        };
        let Some(Value::String(text)) = topic.get("match") else {
            return Err("a topic matcher has no match string".into());
        };
        let kind = match topic.get("matchType") {
            None => MatchType::of_claim(None),
            Some(Value::String(t)) => MatchType::of_claim(Some(t)),
            Some(_) => None,
        }
        .ok_or("matchType must be Exact or URLPattern")?;
        if !valid_text(text) {
            return Err("a match holds control characters".into());
        }
        let selector = Selector::matcher(kind, text, base)?;
        if publish {
            granted.publish.push(selector.clone());
        }
        if subscribe {
            granted.subscribe.push(selector);
        }
    }
    if subscribe && granted.payload.is_none() {
        granted.payload = entry.get("payload").cloned();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_700_000_000.0;
    const HUB: &str = "https://hub.example/.well-known/mercure";

    fn check(claims: Value, issuer: &str) -> Result<Granted, TokenError> {
        let audiences = [HUB.to_owned()];
        let resource = Resource {
            issuer,
            audiences: &audiences,
            base: HUB,
        };
        read(claims.to_string().as_bytes(), &resource, NOW, 5.0)
    }

    fn good(details: Value) -> Value {
        json!({"exp": NOW + 60.0, "aud": HUB, "iss": "https://auth.example", "authorization_details": details})
    }

    #[test]
    fn details_grant_their_actions_on_their_topics() {
        let g = check(
            good(json!([
                {"type": "mercure", "actions": ["subscribe"], "topics": [
                    {"match": "https://example.com/books/1"},
                    {"match": "https://example.com/books/:id", "matchType": "URLPattern"}],
                 "payload": {"a": 1}},
                {"type": "mercure", "actions": ["publish", "subscribe"], "topics": [{"match": "*", "matchType": "URLPattern"}]},
                {"type": "other-api", "locations": ["x"]}
            ])),
            "https://auth.example",
        )
        .unwrap();
        assert_eq!(g.subscribe.len(), 3);
        assert_eq!(g.publish, vec![Selector::All]);
        assert!(g.subscribe[0].matches("https://example.com/books/1"));
        assert!(!g.subscribe[0].matches("https://example.com/books/2"));
        assert!(g.subscribe[1].matches("https://example.com/books/2"));
        assert_eq!(g.exp, NOW + 60.0);
        assert_eq!(g.payload, Some(json!({"a": 1})), "the subscriber's payload");
        // No details: a valid token that grants nothing.
        let none = check(json!({"exp": NOW + 60.0, "aud": [HUB, "x"]}), "").unwrap();
        assert!(none.publish.is_empty() && none.subscribe.is_empty());
    }

    #[test]
    fn iss_aud_and_times_are_checked() {
        let d = json!([]);
        let mut c = good(d.clone());
        c["iss"] = json!("https://evil.example");
        assert!(
            matches!(check(c.clone(), "https://auth.example"), Err(TokenError::Claims(e)) if e.contains("iss"))
        );
        assert!(check(c, "").is_ok(), "iss is checked only when set");
        let mut c = good(d.clone());
        c.as_object_mut().unwrap().remove("iss");
        assert!(check(c, "https://auth.example").is_err());
        for aud in [
            json!("https://other.example/.well-known/mercure"),
            json!([]),
            json!(["a"]),
            json!(null),
        ] {
            let mut c = good(d.clone());
            c["aud"] = aud.clone();
            let e = check(c, "");
            assert!(
                matches!(&e, Err(TokenError::Claims(e)) if e.contains("aud")),
                "{aud}: {e:?}"
            );
        }
        let mut c = good(d.clone());
        c.as_object_mut().unwrap().remove("exp");
        assert!(matches!(check(c, ""), Err(TokenError::Claims(e)) if e.contains("exp")));
        let mut c = good(d.clone());
        c["exp"] = json!(NOW - 10.0);
        assert_eq!(check(c, "").unwrap_err(), TokenError::Expired);
        let mut c = good(d);
        c["nbf"] = json!(NOW + 60.0);
        assert_eq!(check(c, "").unwrap_err(), TokenError::NotYetValid);
    }

    #[test]
    fn one_bad_entry_refuses_the_token() {
        for (details, why) in [
            (json!([1]), "not an object"),
            (
                json!([{"actions": ["publish"], "topics": [{"match": "a"}]}]),
                "type",
            ),
            (
                json!([{"type": "mercure", "topics": [{"match": "a"}]}]),
                "actions",
            ),
            (
                json!([{"type": "mercure", "actions": [], "topics": [{"match": "a"}]}]),
                "actions",
            ),
            (
                json!([{"type": "mercure", "actions": ["delete"], "topics": [{"match": "a"}]}]),
                "actions",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"]}]),
                "topics",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": []}]),
                "topics",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": ["a"]}]),
                "not an object",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": 1}]}]),
                "match",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": "a", "matchType": "Regex"}]}]),
                "matchType",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": "/(", "matchType": "URLPattern"}]}]),
                "URL pattern",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": "a\u{1}"}]}]),
                "control",
            ),
            (
                json!([{"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "a"}], "payload": "x"}]),
                "payload",
            ),
            (
                json!([{"type": "mercure", "actions": ["publish"], "topics": [{"match": "a"}]}, {"type": "mercure"}]),
                "[1]",
            ),
        ] {
            match check(good(details.clone()), "") {
                Err(TokenError::Claims(e)) => assert!(e.contains(why), "{details}: {e}"),
                other => panic!("{details}: {other:?}"),
            }
        }
        let not_array =
            json!({"exp": NOW + 60.0, "aud": HUB, "authorization_details": {"type": "mercure"}});
        assert!(check(not_array, "").is_err());
    }
}
