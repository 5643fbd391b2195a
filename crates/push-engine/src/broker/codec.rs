//! The payloads the Redis broker exchanges: a publication as `publish.lua`
//! sends it on pub/sub, the kind field of a publication and of the history's
//! entries, and `read.lua`'s snapshot of a channel.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::Value;

use crate::error::{Error, Result};
use crate::hub::{Numbered, Snapshot};
use crate::message::{Id, Origin};

/// `epoch \n offset \n kind \n event \n data`, as `publish.lua` sends it;
/// `None` for anything else (an event name that publishing would refuse
/// included: it becomes an SSE `event:` line).
pub fn decode(payload: &[u8]) -> Option<Numbered> {
    let mut parts = payload.splitn(5, |&b| b == b'\n');
    let epoch = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let offset = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let (binary, origin) = parse_kind(parts.next()?)?;
    let event = std::str::from_utf8(parts.next()?).ok()?;
    if !event.is_empty() {
        crate::message::validate_event(event).ok()?;
    }
    let data = Bytes::copy_from_slice(parts.next()?);
    Some(Numbered {
        id: Id { epoch, offset },
        event: (!event.is_empty()).then(|| Arc::from(event)),
        data,
        binary,
        age: Duration::ZERO,
        origin,
    })
}

/// The kind field of `publish.lua` (and of the history's entries): `t`
/// (text) or `b` (binary), then, for a publication a connection sent,
/// `:connection` and, if it speaks for a user, `:user` in hex.
pub fn kind(binary: bool, origin: Option<&Origin>) -> String {
    let mut k = String::from(if binary { "b" } else { "t" });
    if let Some(o) = origin {
        k.push(':');
        k.push_str(&o.connection);
        if let Some(user) = &o.user {
            k.push(':');
            for b in user.bytes() {
                k.push_str(&format!("{b:02x}"));
            }
        }
    }
    k
}

/// A kind field as [`kind`] writes it.
pub fn parse_kind(field: &[u8]) -> Option<(bool, Option<Origin>)> {
    let text = std::str::from_utf8(field).ok()?;
    let mut parts = text.split(':');
    let binary = match parts.next()? {
        "t" => false,
        "b" => true,
        _ => return None,
    };
    let Some(connection) = parts.next() else {
        return Some((binary, None));
    };
    if connection.is_empty()
        || connection.len() > 128
        || !connection.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let user = match parts.next() {
        None => None,
        Some(hex) => {
            if hex.len() % 2 != 0 || hex.len() > 2048 {
                return None;
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            Some(String::from_utf8(bytes).ok()?)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some((
        binary,
        Some(Origin {
            connection: connection.to_owned(),
            user,
        }),
    ))
}

/// `{epoch, offset, {{"<offset>-0", age_ms, kind, event, data}…}}`, as
/// `read.lua` returns it.
pub(super) fn snapshot(reply: Value) -> Result<Snapshot> {
    let bad = || Error::Broker("unexpected reply from read.lua".into());
    let Value::Array(parts) = reply else {
        return Err(bad());
    };
    let [epoch, offset, entries] = <[Value; 3]>::try_from(parts).map_err(|_| bad())?;
    let head = Id {
        epoch: number(&text(epoch).ok_or_else(bad)?)?,
        offset: number(&text(offset).ok_or_else(bad)?)?,
    };
    let Value::Array(entries) = entries else {
        return Err(bad());
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(fields) = entry else {
            return Err(bad());
        };
        let [id, age, kind, event, data] = <[Value; 5]>::try_from(fields).map_err(|_| bad())?;
        let id = text(id).ok_or_else(bad)?;
        let offset = number(id.strip_suffix("-0").ok_or_else(bad)?)?;
        let age = number(&text(age).ok_or_else(bad)?)?;
        let event = text(event).ok_or_else(bad)?;
        let (binary, origin) = text(kind)
            .and_then(|k| parse_kind(k.as_bytes()))
            .ok_or_else(bad)?;
        let Value::BulkString(data) = data else {
            return Err(bad());
        };
        out.push(Numbered {
            id: Id {
                epoch: head.epoch,
                offset,
            },
            event: (!event.is_empty()).then(|| Arc::from(event.as_str())),
            data: Bytes::from(data),
            binary,
            age: Duration::from_millis(age),
            origin,
        });
    }
    Ok(Snapshot { head, entries: out })
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(super) fn number(s: &str) -> Result<u64> {
    s.parse()
        .map_err(|_| Error::Broker(format!("unexpected number {s:?} from Redis")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_publish_lua_sends() {
        let n = decode(b"1700000000000000\n42\nt\nnews\nhello\nworld").unwrap();
        assert_eq!(
            n.id,
            Id {
                epoch: 1_700_000_000_000_000,
                offset: 42
            }
        );
        assert_eq!(n.event.as_deref(), Some("news"));
        assert_eq!(&n.data[..], b"hello\nworld");
        assert!(!n.binary);
        let n = decode(b"1\n2\nb\n\n\x00\xff").unwrap();
        assert!(n.binary && n.event.is_none());
        assert_eq!(&n.data[..], b"\x00\xff");
    }

    #[test]
    fn kinds_carry_the_origin() {
        assert_eq!(kind(false, None), "t");
        assert_eq!(parse_kind(b"b"), Some((true, None)));
        let o = Origin {
            connection: "12.34".into(),
            user: Some("a:b\nc é".into()),
        };
        let k = kind(false, Some(&o));
        assert!(!k.contains('\n'));
        assert_eq!(parse_kind(k.as_bytes()), Some((false, Some(o.clone()))));
        let payload = format!("1\n2\n{k}\nev\ndata");
        assert_eq!(decode(payload.as_bytes()).unwrap().origin, Some(o));
        let o = Origin {
            connection: "1.2".into(),
            user: None,
        };
        assert_eq!(kind(true, Some(&o)), "b:1.2");
        assert_eq!(parse_kind(b"b:1.2"), Some((true, Some(o))));
        for bad in [
            &b"x"[..],
            b"t:",
            b"t:1.2:zz",
            b"t:1.2:6",
            b"t:1.2:61:62",
            b"t:a b",
        ] {
            assert_eq!(parse_kind(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn refuses_malformed_payloads() {
        for bad in [
            &b""[..],
            b"x\n1\nt\n\n",
            b"1\nx\nt\n\n",
            b"1\n2\nq\n\n",
            b"1\n2\nt\n",
            b"1\n2\nt\na\rb\ndata",
            b"1\n2\nt\na\0b\ndata",
        ] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
    }
}
