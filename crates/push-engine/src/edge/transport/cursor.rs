//! What a subscribing request asks for: its channels, where each starts,
//! and the composite cursor of a multi-channel stream.
//!
//! A cursor is either one id (`6613d2f38068c-5`), for a one-channel
//! connection, or a composite `news=6613d2f38068c-5,sport=6613d30a11b2e-9`
//! (in a composite, `%`, `,` and `=` of a channel name are written `%25`,
//! `%2C` and `%3D`: channel names may hold `,` and `=`, never `%`).

use std::sync::Arc;

use crate::error::Error;
use crate::hub::Cursor;
use crate::message::{validate_channel, Id};

/// A parsed cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorSpec {
    One(Id),
    Many(Vec<(String, Id)>),
}

impl CursorSpec {
    pub fn parse(s: &str) -> Result<CursorSpec, Error> {
        if !s.contains('=') {
            return s.parse().map(CursorSpec::One);
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let (channel, id) = part
                .split_once('=')
                .ok_or_else(|| Error::InvalidId(s.chars().take(64).collect()))?;
            let channel =
                unescape(channel).ok_or_else(|| Error::InvalidId(s.chars().take(64).collect()))?;
            validate_channel(channel.as_bytes())?;
            out.push((channel, id.parse()?));
        }
        Ok(CursorSpec::Many(out))
    }

    /// Where `channel` starts, when it is one of `count` channels.
    pub fn start(&self, channel: &str, count: usize) -> Result<Cursor, Error> {
        match self {
            CursorSpec::One(id) if count == 1 => Ok(Cursor::After(*id)),
            CursorSpec::One(id) => Err(Error::InvalidId(format!(
                "{id} (a connection to several channels resumes with a composite cursor: channel=id,channel=id)"
            ))),
            CursorSpec::Many(list) => Ok(list
                .iter()
                .find(|(c, _)| c == channel)
                .map_or(Cursor::Live, |(_, id)| Cursor::After(*id))),
        }
    }
}

/// The composite cursor of several channels' positions.
pub fn composite(positions: &[(Arc<str>, Id)]) -> String {
    let mut s = String::new();
    for (i, (channel, id)) in positions.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        escape(channel, &mut s);
        s.push('=');
        s.push_str(&id.to_string());
    }
    s
}

/// A channel name as a composite cursor writes it.
fn escape(channel: &str, out: &mut String) {
    for c in channel.chars() {
        match c {
            ',' => out.push_str("%2C"),
            '=' => out.push_str("%3D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
}

/// The channel name of a composite cursor, or `None` for a `%` that is not
/// one of [`escape`]'s.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code.to_ascii_uppercase().as_str() {
            "2C" => ',',
            "3D" => '=',
            "25" => '%',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many() {
        let one = CursorSpec::parse("1f-5").unwrap();
        assert_eq!(
            one,
            CursorSpec::One(Id {
                epoch: 0x1f,
                offset: 5
            })
        );
        assert!(one.start("a", 2).is_err());
        let many = CursorSpec::parse("a=1-2,b/c=3-4").unwrap();
        assert_eq!(
            many.start("b/c", 2).unwrap(),
            Cursor::After(Id {
                epoch: 3,
                offset: 4
            })
        );
        assert_eq!(many.start("z", 2).unwrap(), Cursor::Live);
        let positions = vec![
            (
                Arc::from("a"),
                Id {
                    epoch: 1,
                    offset: 2,
                },
            ),
            (
                Arc::from("b/c"),
                Id {
                    epoch: 3,
                    offset: 4,
                },
            ),
        ];
        assert_eq!(CursorSpec::parse(&composite(&positions)).unwrap(), many);
        // Pusher's `,` and `=` in a channel name.
        let odd = vec![(
            Arc::from("presence-a=1,b;c"),
            Id {
                epoch: 5,
                offset: 6,
            },
        )];
        let written = composite(&odd);
        assert_eq!(written, "presence-a%3D1%2Cb;c=5-6");
        assert_eq!(
            CursorSpec::parse(&written)
                .unwrap()
                .start("presence-a=1,b;c", 2)
                .unwrap(),
            Cursor::After(Id {
                epoch: 5,
                offset: 6
            })
        );
        for bad in [
            "", "=", "a=", "=1-2", "a b=1-2", "a=1-2,", "a=x", "a%=1-2", "a%41=1-2",
        ] {
            assert!(CursorSpec::parse(bad).is_err(), "{bad:?}");
        }
    }
}
