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

use ext_php_rs::prelude::*;

/// Module start-up: registers INI entries and exception classes. Starts no
/// thread: php-fpm forks after this.
unsafe extern "C" fn startup(_ty: i32, module_number: i32) -> i32 {
    let ok = catch_unwind(|| {
        ini::register(module_number);
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
    functions::builders()
        .into_iter()
        .fold(module, |m, f| m.function(f))
}
