//! `run(listener, hub, shutdown)`: serves one listener until `shutdown`
//! completes, and meanwhile collects idle channels and (with a shared
//! broker) applies what the broker delivers. It binds nothing itself.

use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::edge::limits::Limits;
use crate::edge::listen;
use crate::edge::{self, AppState};
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
    // With a shared broker, one task applies what every engine publishes.
    let stop_broker = CancellationToken::new();
    if let Some(broker) = hub.broker() {
        tokio::spawn(broker.clone().run(hub.clone(), stop_broker.clone()));
    }
    // Presence and occupancy cluster-wide (or in this engine, without a
    // broker), and the webhooks that report them.
    let stop_cluster = CancellationToken::new();
    let cluster = tokio::spawn(hub.clone().run_cluster(stop_cluster.clone()));
    let webhooks = edge::pusher::webhook::Webhooks::start(&hub, stop_broker.clone());
    let _stop_broker = stop_broker.drop_guard();
    let tasks = TaskTracker::new();
    let metrics = hub.metrics().clone();
    let config = hub.config();
    let limits = Limits::new(config, metrics.clone());
    let state = AppState {
        hub: hub.clone(),
        tasks: tasks.clone(),
        limits: limits.clone(),
        adapters: std::sync::Arc::new(edge::Adapters {
            mercure: Default::default(),
            webhooks,
        }),
    };
    let limit = config.shutdown_timeout;
    let stop = CancellationToken::new();
    let serve = listen::serve(
        listener,
        edge::app(state),
        limits,
        metrics,
        config,
        stop.clone(),
    );
    // Connections get push.shutdown_timeout to finish once shutdown starts.
    tokio::select! {
        _ = serve => {}
        _ = async {
            shutdown.await;
            hub.close_all();
            stop.cancel();
            tokio::time::sleep(limit).await;
        } => {}
    }
    tasks.close();
    let _ = tokio::time::timeout(limit, tasks.wait()).await;
    sweeper.abort();
    // This engine's members and subscriptions leave the broker now.
    stop_cluster.cancel();
    let _ = tokio::time::timeout(limit.max(std::time::Duration::from_secs(1)), cluster).await;
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
