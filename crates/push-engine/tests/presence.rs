//! The hub's presence (`hub::presence`): members counted by connection,
//! notices on a member's first arrival and last departure, never to the
//! connection that caused them.

mod common;

use common::hub::hub;
use push_engine::hub::presence::{Change, Member};
use tokio::sync::mpsc;

fn member(id: &str) -> Member {
    Member {
        id: id.into(),
        info: Some(format!("{{\"name\":\"{id}\"}}")),
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Change>) -> Vec<Change> {
    let mut out = Vec::new();
    while let Ok(c) = rx.try_recv() {
        out.push(c);
    }
    out
}

#[test]
fn members_come_once_and_go_once() {
    let hub = hub();
    let p = hub.presence();
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let (tx3, mut rx3) = mpsc::unbounded_channel();

    assert_eq!(p.join("presence-r", 1, member("a"), tx1), vec![member("a")]);
    assert_eq!(
        p.join("presence-r", 2, member("b"), tx2.clone()),
        vec![member("a"), member("b")]
    );
    assert_eq!(
        drain(&mut rx1),
        vec![Change::Joined("presence-r".into(), member("b"))]
    );
    assert!(
        drain(&mut rx2).is_empty(),
        "not to the connection that joined"
    );

    // b's second connection: no notice, still two members.
    assert_eq!(p.join("presence-r", 3, member("b"), tx3).len(), 2);
    assert!(drain(&mut rx1).is_empty() && drain(&mut rx2).is_empty());
    assert_eq!(p.count("presence-r"), 2);

    // Joining again moves, never counts twice.
    p.join("presence-r", 2, member("b"), tx2);
    assert_eq!(p.count("presence-r"), 2);
    drain(&mut rx1);

    // b's first connection leaves: nothing; its last: a is told, once.
    p.leave("presence-r", 2);
    assert!(drain(&mut rx1).is_empty());
    p.leave("presence-r", 3);
    assert_eq!(
        drain(&mut rx1),
        vec![Change::Left("presence-r".into(), "b".into())]
    );
    assert!(
        drain(&mut rx3).is_empty(),
        "not to the connection that left"
    );
    p.leave("presence-r", 3);
    assert_eq!(p.members("presence-r"), vec![member("a")]);

    // The last one out empties the channel; other channels are apart.
    assert_eq!(p.count("presence-other"), 0);
    p.leave("presence-r", 1);
    assert_eq!(p.count("presence-r"), 0);
    assert!(p.members("presence-r").is_empty());
}

#[test]
fn a_watcher_whose_connection_ended_is_forgotten() {
    let hub = hub();
    let p = hub.presence();
    let (tx1, rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    p.join("presence-r", 1, member("a"), tx1);
    drop(rx1);
    p.join("presence-r", 2, member("b"), tx2.clone());
    p.join("presence-r", 3, member("c"), tx2);
    assert_eq!(
        drain(&mut rx2),
        vec![Change::Joined("presence-r".into(), member("c"))]
    );
}
