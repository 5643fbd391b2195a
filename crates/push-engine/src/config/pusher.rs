//! The settings of the Pusher Channels protocol (`edge::pusher`):
//! `push.pusher_app_id`, `push.pusher_key`, `push.pusher_secret`. All three
//! empty (the default) turn the protocol off; [`super::Config::validate`]
//! refuses some but not all.

/// An app id or key: empty, or 1–64 characters of `A-Z a-z 0-9 _ . -`
/// (Pusher's are digits and hex; Reverb's are random letters and digits).
fn parse_name(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("use at most 64 characters of A-Z a-z 0-9 _ . -".into())
    }
}

pub(super) fn parse_app_id(value: &str) -> Result<String, String> {
    parse_name(value)
}

pub(super) fn parse_key(value: &str) -> Result<String, String> {
    parse_name(value)
}

/// A webhook URL: empty (none), or `http://host[:port][/path]` (plain
/// HTTP: put a proxy in front for HTTPS).
pub(super) fn parse_webhook_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let ok = v.len() <= 2048
        && v.strip_prefix("http://").is_some_and(|rest| {
            let authority = rest.split('/').next().unwrap_or("");
            !authority.is_empty() && !authority.contains('@')
        })
        && v.parse::<hyper::Uri>().is_ok();
    if ok {
        Ok(v.to_owned())
    } else {
        Err(
            "use http://host[:port]/path (plain HTTP, at most 2048 characters), or empty for none"
                .into(),
        )
    }
}
