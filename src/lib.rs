//! The `push` PHP extension: glue only. Every piece of engine logic lives in
//! the `push-engine` crate.
//!
//! - `functions`: the `push_*` functions.
//! - `message`: the `Push\Message` class.
//! - `exceptions`: the `Push\` exception classes and the error mapping.
//! - `ini`: `push.*` INI entries.
//! - `info`: the phpinfo() section.
//! - `runtime`: the per-process engine handle (lazy start, fork, shutdown).
//! - `zend`: PHP symbols resolved at run time, interrupts.

#![cfg_attr(windows, feature(abi_vectorcall))]

mod exceptions;
mod functions;
mod info;
mod ini;
mod message;
mod runtime;
mod zend;

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, Ordering};

use ext_php_rs::prelude::*;

/// Whether `mercure_publish()` is this module's (PHP had none before).
static OWN_MERCURE_PUBLISH: AtomicBool = AtomicBool::new(false);

/// Module start-up: registers INI entries and exception classes. Starts no
/// thread: php-fpm forks after this.
unsafe extern "C" fn startup(_ty: i32, module_number: i32) -> i32 {
    let ok = catch_unwind(|| {
        ini::register(module_number);
        if OWN_MERCURE_PUBLISH.load(Ordering::Relaxed) {
            zend::declare_string_or_array("mercure_publish");
        }
        exceptions::register().is_ok() && message::register().is_ok()
    });
    if ok.unwrap_or(false) {
        0
    } else {
        -1
    }
}

/// Module shutdown: stops the engine, only in the process that started it.
unsafe extern "C" fn shutdown(_ty: i32, _module_number: i32) -> i32 {
    let _ = catch_unwind(runtime::stop);
    0
}

#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    let module = module
        .startup_function(startup)
        .shutdown_function(shutdown)
        .info_function(info::php_module_info);
    // FrankenPHP brings its own mercure_publish() (its SAPI module starts
    // before PHP loads extension= modules): registering ours too would make
    // PHP refuse the whole module, so its own wins.
    let with_mercure_publish = !zend::function_exists("mercure_publish");
    OWN_MERCURE_PUBLISH.store(with_mercure_publish, Ordering::Relaxed);
    functions::builders(with_mercure_publish)
        .into_iter()
        .fold(module, |m, f| m.function(f))
}
