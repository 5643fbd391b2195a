//! `run(listener, hub, shutdown)`: serves one listener until `shutdown`
//! completes, and collects idle channels meanwhile. It binds nothing itself.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::api::{self, AppState};
use crate::hub::Hub;

/// Serves `listener` until `shutdown` resolves; then stops accepting, closes
/// every subscription (WebSockets get a close frame, SSE streams end,
/// pending long-polls are answered) and returns once connections are done.
pub async fn run(
    listener: TcpListener,
    hub: Hub,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let sweeper = tokio::spawn(sweep(hub.clone()));
    let tasks = TaskTracker::new();
    let state = AppState {
        hub: hub.clone(),
        tasks: tasks.clone(),
    };
    let closer = hub.clone();
    let shutdown = async move {
        shutdown.await;
        closer.close_all();
    };
    let app = api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    tasks.close();
    tasks.wait().await;
    sweeper.abort();
    if let Err(e) = served {
        eprintln!("push: server stopped on error: {e}");
    }
}

/// Collects idle channels and expired history every `push.sweep_interval`.
async fn sweep(hub: Hub) {
    let mut tick = tokio::time::interval(hub.config().sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        hub.sweep();
    }
}
