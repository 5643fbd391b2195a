//! `run(listener, hub, shutdown)`: serves one listener until `shutdown`
//! completes, and meanwhile collects idle channels and (with a shared
//! broker) applies what the broker delivers. It binds nothing itself.

use std::future::Future;
use std::future::IntoFuture;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{self, AppState};
use crate::broker;
use crate::hub::Hub;
use crate::transport::io::{Guarded, Peer};

/// Serves `listener` until `shutdown` resolves; then stops accepting, closes
/// every subscription (WebSockets get a close frame, SSE streams end,
/// pending long-polls are answered) and returns once connections are done.
pub async fn run(
    listener: TcpListener,
    hub: Hub,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let sweeper = tokio::spawn(sweep(hub.clone()));
    // With a shared broker, one task applies what every engine publishes.
    let stop_broker = CancellationToken::new();
    if let Some(broker) = hub.broker() {
        tokio::spawn(broker::redis::run(
            hub.clone(),
            broker.clone(),
            stop_broker.clone(),
        ));
    }
    let _stop_broker = stop_broker.drop_guard();
    let tasks = TaskTracker::new();
    let state = AppState {
        hub: hub.clone(),
        tasks: tasks.clone(),
    };
    let config = hub.config();
    let (limit, keepalive) = (config.shutdown_timeout, config.keepalive);
    let closer = hub.clone();
    let (fired, on_fire) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        closer.close_all();
        let _ = fired.send(());
    };
    let listener = Guarded {
        inner: listener,
        limit: 2 * keepalive,
        metrics: hub.metrics().clone(),
    };
    let app = api::app(state).into_make_service_with_connect_info::<Peer>();
    let serve = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .into_future();
    // Connections get push.shutdown_timeout to finish once shutdown starts.
    let served = tokio::select! {
        served = serve => served,
        _ = async {
            let _ = on_fire.await;
            tokio::time::sleep(limit).await;
        } => Ok(()),
    };
    tasks.close();
    let _ = tokio::time::timeout(limit, tasks.wait()).await;
    sweeper.abort();
    if let Err(e) = served {
        eprintln!("push: server stopped on error: {e}");
    }
}

/// Collects idle channels and expired history every `push.sweep_interval`.
async fn sweep(hub: Hub) {
    let period = hub.config().sweep_interval;
    // The first collection is one period away, not at once.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut touched = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        hub.sweep();
        if let Some(broker) = hub.broker() {
            if touched.elapsed() >= broker.touch_interval() {
                touched = tokio::time::Instant::now();
                // Failing is harmless: the next interval tries again.
                let _ = broker.touch(&hub.watched()).await;
            }
        }
    }
}
