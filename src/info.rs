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
            info_table_row!("channels", s.channels.to_string().as_str());
            info_table_row!("subscribers", s.subscribers.to_string().as_str());
            info_table_row!("publications", s.publications.to_string().as_str());
        }
        info_table_end!();
    });
    crate::zend::display_ini_entries(module);
}
