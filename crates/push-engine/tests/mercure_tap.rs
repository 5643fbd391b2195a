//! An idle Mercure subscriber is written by the publisher itself (its tap,
//! `edge/transport/tap`), and gets what its stream alone would send: the
//! updates its selectors and its token let through — never a private one
//! it holds no grant for — once and in order, and after a loss the id of
//! the last update it was sent, whichever of the two wrote it.

mod common;

use std::time::Duration;

use common::mercure::*;
use common::*;

/// `(topic, private)` of each update published, in turn.
const MIX: [(&str, bool); 4] = [
    ("https://e.org/a", false),
    ("https://e.org/p/2", false),
    ("https://e.org/p/1", true),
    ("https://e.org/p/2", true),
];

/// The ids and data of the next `n` updates a stream receives (no
/// `push-lost`, no `push-slow`).
async fn updates(sse: &mut Sse, n: usize) -> Vec<(String, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        match sse.next().await {
            Some(SseItem::Event(e)) => {
                assert_eq!(e.event, None, "after {got:?}: {e:?}");
                got.push((e.id.clone().unwrap_or_default(), e.data().to_owned()));
            }
            Some(_) => {}
            None => panic!("the stream ended after {got:?}"),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_subscribers_get_exactly_their_updates_from_the_publisher() {
    const N: usize = 60;
    let server = hub_with(|_| {}).await;
    let granted = bearer(SUBSCRIBER_KEY, &["https://e.org/p/1"]);
    let mut one = subscribe(&server, "https://e.org/a", &[]).await;
    let mut all = subscribe(&server, "*", &[("Authorization", &granted)]).await;
    let mut template = subscribe(&server, "https://e.org/p/{id}", &[]).await;
    server.wait_subscribers(3).await;
    let before = server.hub.metrics().direct_writes();
    let mut sent = Vec::new();
    for i in 0..N {
        let (topic, private) = MIX[i % MIX.len()];
        let data = format!("u{i}");
        let mut pairs = vec![("topic", topic), ("data", &data)];
        if private {
            pairs.push(("private", "on"));
        }
        let id = publish(&server, &pairs).await;
        sent.push((i, id, data));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let want = |keep: fn(usize) -> bool| -> Vec<(String, String)> {
        sent.iter()
            .filter(|(i, ..)| keep(*i % MIX.len()))
            .map(|(_, id, data)| (id.clone(), data.clone()))
            .collect()
    };
    // Public a; everything but the private update it has no grant for;
    // public p/{id} only.
    let (want_one, want_all, want_template) =
        (want(|k| k == 0), want(|k| k != 3), want(|k| k == 1));
    assert_eq!(updates(&mut one, want_one.len()).await, want_one);
    assert_eq!(updates(&mut all, want_all.len()).await, want_all);
    assert_eq!(
        updates(&mut template, want_template.len()).await,
        want_template
    );
    for sse in [&mut one, &mut all, &mut template] {
        sse.quiet(Duration::from_millis(100)).await;
    }
    let direct = server.hub.metrics().direct_writes() - before;
    let deliveries = (want_one.len() + want_all.len() + want_template.len()) as u64;
    assert!(
        direct >= deliveries / 2,
        "most of the {deliveries} deliveries are written by the publisher: {direct}"
    );
    assert!(direct <= deliveries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loss_names_the_last_update_sent() {
    const N: usize = 500;
    let server = hub_with(|c| {
        c.keepalive = Duration::from_secs(10);
        c.max_message_size = 64 * 1024;
        c.channel_buffer = 16;
        c.mercure_history = 4;
    })
    .await;
    // A 4 KB receive buffer: while the subscriber reads nothing, 8 MB of
    // updates fill its socket, its stream falls more than the ring and the
    // log behind, and it is told of a loss.
    let mut s = small_socket(server.addr, 4096).await;
    send_request(&mut s, "GET", &format!("{HUB}?topic=*"), &[], b"").await;
    let mut sse = Sse::read(s).await;
    assert_eq!(sse.next().await, Some(SseItem::Comment(String::new())));
    server.wait_subscribers(1).await;
    // The first ones while it reads: written by the tap.
    let before = server.hub.metrics().direct_writes();
    let mut first = Vec::new();
    for i in 0..5 {
        first.push(publish(&server, &[("topic", "/t"), ("data", &format!("s{i}"))]).await);
        let got = updates(&mut sse, 1).await;
        assert_eq!(got[0].0, first[i]);
    }
    assert!(server.hub.metrics().direct_writes() > before);
    let body = "z".repeat(16 * 1024);
    for i in 0..N {
        publish(
            &server,
            &[("topic", "/t"), ("data", &format!("{i:06}{body}"))],
        )
        .await;
    }
    // Everything up to the loss arrives whole, then the loss names the
    // last update before it.
    let mut last = first.last().cloned();
    let lost = loop {
        match sse.next().await {
            Some(SseItem::Event(e)) if e.event.as_deref() == Some("push-lost") => break e,
            Some(SseItem::Event(e)) => {
                assert_eq!(e.event, None, "{e:?}");
                last = e.id.clone();
            }
            Some(_) => {}
            None => panic!("the stream ended, no push-lost, after {last:?}"),
        }
    };
    let v: serde_json::Value = serde_json::from_str(lost.data()).unwrap();
    assert_eq!(v["requested"].as_str(), last.as_deref(), "{v}");
    assert_eq!(server.hub.metrics().slow_disconnects(), 0);
}
