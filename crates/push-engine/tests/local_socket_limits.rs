//! The local socket is bounded like the HTTP side: at most
//! `push.max_workers` connections (one more is told why, then closed), and
//! a connection idle past `push.socket_idle_timeout` is closed; a worker's
//! client reconnects by itself.

mod common;

use std::time::Duration;

use common::*;
use push_engine::ipc::{self, client::Client};
use push_engine::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Serves the local socket of `server`'s hub on a path of its own.
fn local_socket(server: &Server, name: &str) -> (String, CancellationToken) {
    let path = format!(
        "{}/push-local-{name}-{}.sock",
        std::env::temp_dir().display(),
        std::process::id()
    );
    let _ = std::fs::remove_file(&path);
    let cancel = CancellationToken::new();
    tokio::spawn(ipc::server::run(
        UnixListener::bind(&path).unwrap(),
        path.clone(),
        server.hub.clone(),
        cancel.clone(),
        tokio_util::task::TaskTracker::new(),
    ));
    (path, cancel)
}

async fn connect(path: &str) -> Result<Client, Error> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        Client::connect(&path, Duration::from_secs(1), Duration::from_secs(2))
    })
    .await
    .unwrap()
}

/// Whether the engine closed `stream` within T (after whatever it sent).
async fn closed(stream: &mut UnixStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(T, stream.read_to_end(&mut rest)).await,
        Ok(Ok(_) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_workers_a_connection_is_refused_with_the_reason() {
    let server = Server::start_with(|c| c.max_workers = 2).await;
    let (path, cancel) = local_socket(&server, "max");
    let first = connect(&path).await.unwrap();
    let second = connect(&path).await.unwrap();
    match connect(&path).await {
        Err(e @ Error::TooManyWorkers { .. }) => assert_eq!(
            e.to_string(),
            format!("the push engine on {path} refused the connection: push.max_workers (2) connections are open on its local socket")
        ),
        other => panic!("expected TooManyWorkers, got {other:?}"),
    }
    // A raw connection gets the ERROR answer (code 8), then the end.
    let mut raw = UnixStream::connect(&path).await.unwrap();
    let mut head = [0u8; 6];
    raw.read_exact(&mut head).await.unwrap();
    assert_eq!(&head[4..], &[ipc::R_ERROR, ipc::code::TOO_MANY_WORKERS]);
    assert!(closed(&mut raw).await);
    // One leaves: the next one is let in.
    drop(first);
    let started = Instant::now();
    let third = loop {
        match connect(&path).await {
            Ok(c) => break c,
            Err(Error::TooManyWorkers { .. }) if started.elapsed() < T => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    drop((second, third));
    cancel.cancel();
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_socket_idle_timeout() {
    const IDLE: Duration = Duration::from_millis(300);
    let server = Server::start_with(|c| {
        c.socket_idle_timeout = IDLE;
        c.request_timeout = Duration::from_secs(2);
    })
    .await;
    let (path, cancel) = local_socket(&server, "idle");
    // Taken before connecting: the engine may accept (and start its timer)
    // before this task sees the connection made.
    let started = Instant::now();
    let mut idle = UnixStream::connect(&path).await.unwrap();
    assert!(closed(&mut idle).await, "closed within T");
    assert!(
        started.elapsed() >= IDLE,
        "not before: {:?}",
        started.elapsed()
    );

    // A connection in use is not idle: requests every IDLE/2 keep it.
    let stats = ipc::frame(ipc::STATS, |_| {});
    let mut busy = UnixStream::connect(&path).await.unwrap();
    for _ in 0..6 {
        tokio::time::sleep(IDLE / 2).await;
        busy.write_all(&stats).await.unwrap();
        let mut len = [0u8; 4];
        busy.read_exact(&mut len).await.expect("an answer");
        let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
        busy.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer[0], ipc::R_STATS);
    }
    // Nor is one that waits longer than that for a message.
    let client = connect(&path).await.unwrap();
    let waited = tokio::task::spawn_blocking(move || {
        let mut client = client;
        let w = client.wait("quiet", push_engine::Cursor::Live, IDLE * 2, &mut || {
            std::ops::ControlFlow::Continue(())
        });
        (w, client.is_alive())
    })
    .await
    .unwrap();
    assert!(
        waited.0.unwrap().publication.is_none(),
        "timed out normally"
    );
    assert!(waited.1, "still open right after the wait");
    cancel.cancel();
    let _ = std::fs::remove_file(&path);
}
