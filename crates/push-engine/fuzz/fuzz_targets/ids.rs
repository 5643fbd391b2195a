//! Ids and cursors (`message.rs`, `transport/cursor.rs`): whatever parses
//! prints back to a form that parses to the same value, and every id
//! round-trips through its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use push_engine::hub::Cursor;
use push_engine::message::validate_channel;
use push_engine::edge::transport::cursor::{composite, CursorSpec};
use push_engine::Id;

fuzz_target!(|data: &[u8]| {
    // Any id prints to text that parses back to it.
    if data.len() >= 16 {
        let id = Id {
            epoch: u64::from_be_bytes(data[..8].try_into().unwrap()),
            offset: u64::from_be_bytes(data[8..16].try_into().unwrap()),
        };
        assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<Id>() {
        let shown = id.to_string();
        assert_eq!(shown.parse::<Id>().unwrap(), id, "{text:?}");
        // The text form is the canonical one, give or take leading zeros.
        assert!(text.len() >= shown.len(), "{text:?} -> {shown:?}");
    }
    match CursorSpec::parse(text) {
        Ok(CursorSpec::One(id)) => {
            assert_eq!(text.parse::<Id>().unwrap(), id);
            assert_eq!(
                CursorSpec::parse(text).unwrap().start("c", 1).unwrap(),
                Cursor::After(id)
            );
            assert!(CursorSpec::One(id).start("c", 2).is_err());
        }
        Ok(CursorSpec::Many(list)) => {
            assert!(!list.is_empty());
            for (channel, _) in &list {
                assert!(validate_channel(channel.as_bytes()).is_ok(), "{channel:?}");
            }
            let positions: Vec<_> = list
                .iter()
                .map(|(c, id)| (std::sync::Arc::from(c.as_str()), *id))
                .collect();
            let again = composite(&positions);
            assert_eq!(
                CursorSpec::parse(&again).unwrap(),
                CursorSpec::Many(list.clone()),
                "{text:?}"
            );
            // A channel resumes from the first position given for it.
            for (channel, id) in &list {
                let first = list.iter().find(|(c, _)| c == channel).unwrap().1;
                let start = CursorSpec::Many(list.clone()).start(channel, 2).unwrap();
                assert_eq!(start, Cursor::After(first), "{channel} {id}");
            }
        }
        Err(_) => {}
    }
});
