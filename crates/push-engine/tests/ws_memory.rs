//! What a WebSocket client that never reads can make the engine hold.
//! tungstenite queues a pong for every ping it reads; push caps that queue
//! (`max_write_buffer_size`), so a client that floods pings and takes no
//! bytes holds at most that much until the stall guard drops it.
//!
//! The live heap is counted by a global allocator of this test binary (the
//! engine runs in-process), so this file holds one test only.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// One masked client ping with a 125-byte payload (the most a control
/// frame carries).
fn ping() -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x89, 0x80 | 125];
    frame.extend_from_slice(&mask);
    frame.extend((0..125).map(|i| b'p' ^ mask[i % 4]));
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooding_pings_without_reading_holds_at_most_64k_of_pongs() {
    // Keep-alive far away: the stall guard does not end the test early.
    let server = Server::start_with(|c| c.keepalive = Duration::from_secs(30)).await;
    let mut calm = ws_open(server.addr, "/ws/calm").await;
    let mut flood = small_socket(server.addr, 4096).await;
    let headers = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    send_request(&mut flood, "GET", "/ws/flood", &headers, b"").await;
    let (status, _, _) = read_head(&mut flood).await;
    assert_eq!(status, 101);
    server.wait_subscribers(2).await;
    let burst: Vec<u8> = std::iter::repeat_n(ping(), 1000).flatten().collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = counting::live();

    // Pings, never reading a pong: the kernel takes as many pongs as the
    // socket's send buffer grows to (net.ipv4.tcp_wmem's maximum, 4 MB by
    // default); 4 MB more of them wait in the engine, up to its cap.
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|v| v.split_whitespace().last()?.parse().ok())
        .unwrap_or(4 << 20);
    for _ in 0..(wmem_max + (4 << 20)) / burst.len() + 1 {
        tokio::time::timeout(T, flood.write_all(&burst))
            .await
            .expect("the engine keeps reading pings")
            .expect("write");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = counting::live() - before;
    // At most 64 KB of pongs (in a Vec of up to 128 KB); it was 2 MB when
    // tungstenite's queue was sized for deliveries.
    assert!(held < 256 * 1024, "the engine holds {held} more bytes");

    // Everyone else is served.
    server.publish("calm", "still here");
    assert_eq!(ws_text(&mut calm).await, "still here");
    drop(flood);
}
