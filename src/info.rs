//! The phpinfo() / `php --ri push` section.

use std::panic::catch_unwind;

use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

use crate::runtime;

/// Prints push's section. Catches its own panics: it is called by PHP
/// outside any function call.
pub extern "C" fn php_module_info(module: *mut ModuleEntry) {
    let _ = catch_unwind(|| {
        info_table_start!();
        info_table_row!("push support", "enabled");
        info_table_row!("version", env!("CARGO_PKG_VERSION"));
        info_table_row!("engine", "push-engine (tokio, axum)");
        info_table_row!("role", runtime::role().as_str());
        let listen = runtime::listen_addr().map_or_else(|| "-".to_owned(), |a| a.to_string());
        info_table_row!("listening on", listen.as_str());
        if let Some(s) = runtime::engine_stats() {
            let c = &s.connections;
            let rows = [
                ("broker", s.broker.as_str().to_owned()),
                ("ready", if s.ready { "yes" } else { "no" }.to_owned()),
                ("broker reconnects", s.broker_reconnects.to_string()),
                ("connections (ws)", c.ws.to_string()),
                ("connections (sse)", c.sse.to_string()),
                ("connections (poll)", c.poll.to_string()),
                ("connections (ipc)", c.ipc.to_string()),
                ("connections (pusher)", c.pusher.to_string()),
                ("channels", s.hub.channels.to_string()),
                ("subscribers", s.hub.subscribers.to_string()),
                ("publications", s.hub.publications.to_string()),
                ("deliveries", s.deliveries.to_string()),
                ("direct writes", s.direct_writes.to_string()),
                ("drops", s.drops.to_string()),
                ("slow disconnects", s.slow_disconnects.to_string()),
                ("queued bytes", s.queued_bytes.to_string()),
            ];
            for (name, value) in rows {
                info_table_row!(name, value.as_str());
            }
        }
        info_table_end!();
    });
    crate::zend::display_ini_entries(module);
}
