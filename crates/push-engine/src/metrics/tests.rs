//! Shards, buckets, batches and guards of the metrics.

use super::*;

#[test]
fn bounds_agree() {
    for (s, ns) in LATENCY_BOUNDS.iter().zip(BOUNDS_NS) {
        assert_eq!((s * 1e9).round() as u64, ns);
    }
}

#[tokio::test(start_paused = true)]
async fn latencies_land_in_their_buckets() {
    let m = Metrics::new();
    let at = Instant::now();
    m.delivered(Transport::Ws, at); // 0: the first bucket
    tokio::time::advance(Duration::from_micros(500)).await;
    m.delivered(Transport::Ws, at); // exactly 0.0005: still the first
    tokio::time::advance(Duration::from_micros(1)).await;
    m.delivered(Transport::Ws, at); // just over: the second
    tokio::time::advance(Duration::from_secs(3)).await;
    m.delivered(Transport::Ws, at); // over 2.5 s: +Inf
    m.delivered(Transport::Sse, Instant::now());
    let ws = m.latency(Transport::Ws);
    let mut expected = [0; BUCKETS];
    expected[0] = 2;
    expected[1] = 1;
    expected[BUCKETS - 1] = 1;
    assert_eq!(ws.buckets, expected);
    assert_eq!(ws.count(), 4);
    assert_eq!(
        ws.sum,
        Duration::from_micros(500 + 501) + Duration::from_micros(3_000_501)
    );
    assert_eq!(m.deliveries(Transport::Ws), 4);
    assert_eq!(m.deliveries(Transport::Sse), 1);
    assert_eq!(m.deliveries(Transport::Poll), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_records_like_single_deliveries() {
    let (one, batch) = (Metrics::new(), Metrics::new());
    let at = Instant::now();
    tokio::time::advance(Duration::from_millis(3)).await;
    let mut b = Batch::new(Transport::Poll);
    for _ in 0..200 {
        one.delivered(Transport::Poll, at);
        b.add(at);
    }
    batch.record(&b);
    batch.record(&Batch::new(Transport::Poll)); // empty: nothing
    assert_eq!(batch.latency(Transport::Poll), one.latency(Transport::Poll));
    assert_eq!(batch.deliveries(Transport::Poll), 200);
    assert_eq!(batch.latency(Transport::Poll).buckets[3], 200, "le 0.005");
}

#[test]
fn guards_count_connections_out() {
    let m = Arc::new(Metrics::new());
    let a = m.connection(Transport::Ws);
    let b = m.connection(Transport::Ws);
    let c = m.connection(Transport::Ipc);
    assert_eq!(m.connections(Transport::Ws), 2);
    assert_eq!(m.connections(Transport::Ipc), 1);
    drop(a);
    let moved = std::thread::spawn(move || drop(b));
    moved.join().unwrap();
    assert_eq!(m.connections(Transport::Ws), 0);
    drop(c);
    assert_eq!(m.connections(Transport::Ipc), 0);
}

#[test]
fn queued_bytes_add_up_across_threads() {
    let m = Arc::new(Metrics::new());
    let threads: Vec<_> = (0..SHARDS + 3)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || m.queue(1000))
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(m.queued_bytes(), 1000 * (SHARDS as u64 + 3));
    // Counted out on other threads than those that counted in.
    for _ in 0..SHARDS + 3 {
        let m = m.clone();
        std::thread::spawn(move || m.unqueue(1000)).join().unwrap();
    }
    assert_eq!(m.queued_bytes(), 0);
    m.unqueue(1);
    assert_eq!(m.queued_bytes(), 0, "never shown below zero");
}

#[test]
fn readiness_follows_the_broker() {
    let m = Metrics::new();
    assert_eq!(m.broker(), BrokerState::Memory);
    assert!(m.is_ready(), "the memory broker is ready");
    m.set_broker(BrokerState::Connected);
    assert!(!m.is_ready(), "connected, subscriptions not current yet");
    m.set_ready(true);
    assert!(m.is_ready());
    m.set_broker(BrokerState::Disconnected);
    assert!(!m.is_ready());
    m.broker_reconnected();
    m.set_broker(BrokerState::Connected);
    assert!(m.is_ready());
    assert_eq!(m.broker_reconnects(), 1);
    for state in BrokerState::ALL {
        m.set_broker(state);
        assert_eq!(m.broker(), state);
    }
}
