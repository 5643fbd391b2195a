//! Parsing INI-style values the way PHP does, and showing them back.

use std::time::Duration;

pub(super) fn show_str(s: &str) -> String {
    s.to_owned()
}
pub(super) fn show_usize(n: &usize) -> String {
    n.to_string()
}
pub(super) fn show_secs(d: &Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Parses a quantity the way PHP's `zend_ini_parse_quantity` does: an
/// integer (decimal, or `0x`/`0o`/`0b`), optionally followed by `K`, `M` or
/// `G` (any case), surrounded by optional white space.
pub fn parse_quantity(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let (digits, shift) = match v.as_bytes().last() {
        Some(b'k' | b'K') => (&v[..v.len() - 1], 10),
        Some(b'm' | b'M') => (&v[..v.len() - 1], 20),
        Some(b'g' | b'G') => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    let digits = digits.trim_end();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let lower = digits.to_ascii_lowercase();
    let parsed = if let Some(hex) = lower.strip_prefix("0x") {
        u64::from_str_radix(hex, 16)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        u64::from_str_radix(oct, 8)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        u64::from_str_radix(bin, 2)
    } else {
        lower.parse::<u64>()
    };
    let n =
        parsed.map_err(|_| format!("'{value}' is not a whole number (such as 100, 64K or 8M)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{value}' is too large"))
}

/// Parses a boolean the way PHP's `zend_ini_parse_bool` does.
pub fn parse_bool(value: &str) -> bool {
    let v = value.trim();
    if ["true", "yes", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
    {
        return true;
    }
    // PHP: atoi(value) != 0 — leading digits count, the rest is ignored.
    let digits: String = v
        .trim_start_matches(['-', '+'])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().any(|c| c != '0')
}

/// A whole number from `min` to `max`, written as PHP writes quantities
/// (`100`, `64K`, `0x10`).
pub(super) fn parse_range(v: &str, min: usize, max: usize) -> Result<usize, String> {
    parse_quantity(v)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from {min} to {max}"))
}

/// Seconds (`1.5`, `0.01`) from `min` to `max`.
pub(super) fn parse_secs_range(v: &str, min: f64, max: f64) -> Result<Duration, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (min..=max).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("must be a number of seconds from {min} to {max}"))
}

pub(super) fn parse_addr(v: &str) -> Result<String, String> {
    let v = v.trim();
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(v.to_owned()),
        _ => Err(format!("'{v}' is not host:port (such as 127.0.0.1:8080)")),
    }
}

pub(super) fn parse_channel(v: &str) -> Result<String, String> {
    crate::message::validate_channel(v.trim().as_bytes())
        .map(str::to_owned)
        .map_err(|e| e.to_string())
}

pub(super) fn parse_token(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(v.to_owned())
}

pub(super) fn parse_mode(v: &str) -> Result<u32, String> {
    let v = v.trim();
    match u32::from_str_radix(v.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("'{v}' is not an octal file mode (such as 0660)")),
    }
}

pub(super) fn show_mode(m: &u32) -> String {
    format!("{m:04o}")
}

pub(super) fn parse_group(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
    {
        return Err(format!("'{v}' is not a group name or id"));
    }
    Ok(v.to_owned())
}

pub(super) fn parse_path(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() || v.contains('\0') {
        return Err("must be a file path".into());
    }
    if v.len() > 100 {
        // sun_path holds 108 bytes on Linux.
        return Err("must be at most 100 bytes (a Unix socket path)".into());
    }
    Ok(v.to_owned())
}

/// `memory` (or empty) for the in-process broker, else a Redis URL.
pub(super) fn parse_broker(value: &str) -> Result<Option<String>, String> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("memory") {
        return Ok(None);
    }
    if !(v.starts_with("redis://") || v.starts_with("redis+unix://") || v.starts_with("unix://")) {
        return Err("use memory, redis://host:port/db or unix:///path/to/redis.sock".into());
    }
    redis::Client::open(v).map_err(|e| format!("not a Redis URL: {e}"))?;
    Ok(Some(v.to_owned()))
}
pub(super) fn show_broker(b: &Option<String>) -> String {
    b.clone().unwrap_or_else(|| "memory".into())
}

/// 1–64 characters that are neither Redis glob characters nor braces.
pub(super) fn parse_prefix(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("use 1 to 64 characters of A-Z a-z 0-9 _ . : -".into())
    }
}

/// Longest URL a setting takes.
pub const MAX_URL: usize = 2048;

/// An absolute `http://` or `https://` URL with a host, of visible ASCII
/// (no `<`, `>`, `"` or spaces: it goes into a `Link` header), at most
/// [`MAX_URL`] bytes; or nothing.
pub(super) fn parse_http_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    if v.len() > MAX_URL {
        return Err(format!("a URL of at most {MAX_URL} bytes"));
    }
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("an absolute http:// or https:// URL")?;
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err("a URL with a host".into());
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"<>\"".contains(&b))
    {
        return Err("a URL of visible ASCII, without spaces, <, > or \"".into());
    }
    Ok(v.to_owned())
}
