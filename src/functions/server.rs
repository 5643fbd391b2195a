//! push_serve(), push_server_start(), push_server_stop(), push_stats().

use std::ffi::c_char;
use std::ops::ControlFlow;
use std::ptr;

use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::HashTable;
use ext_php_rs::types::{ZendHashTable, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::process::{self, TermSignals};
use push_engine::Config;

use super::args::*;
use super::signals::PhpSignals;
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, value_error};
use crate::zend;
use crate::{ini, runtime};

/// The configuration: INI values, then the options array over them.
fn config(func: &str, opts: *mut HashTable) -> Result<Config, Fail> {
    let mut config = ini::config().map_err(|e| from_engine(func, &e))?;
    let names: Vec<&str> = push_engine::config::SETTINGS
        .iter()
        .map(|s| s.name)
        .collect();
    for (key, value) in options(func, 1, opts, &names)? {
        let value = value.unwrap_or_default();
        config
            .set(&key, &value)
            .map_err(|e| value_error(func, 1, "options", e))?;
    }
    Ok(config)
}

/// `push_serve(array $options = []): void` — runs the engine here until
/// SIGINT or SIGTERM.
pub(super) fn push_serve(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    const F: &str = "push_serve";
    let mut opts: *mut HashTable = ptr::null_mut();
    parse!(ex, c"|h", &mut opts);
    let engine = runtime::start(config(F, opts)?).map_err(|e| from_engine(F, &e))?;
    eprintln!(
        "push: engine listening on http://{} (pid {}), workers on unix:{}, broker {}; stop with Ctrl-C or SIGTERM",
        engine.local_addr(),
        process::pid(),
        engine.hub().config().socket,
        engine.hub().broker().map_or("memory", |b| b.url()),
    );
    let term = TermSignals::install();
    let mut signals = PhpSignals::default();
    let mut why = "stopped";
    engine.block_until(&mut || {
        if let Some(sig) = term.as_ref().and_then(|t| t.received()) {
            why = if sig == libc::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            return ControlFlow::Break(());
        }
        if engine.is_stopped() {
            return ControlFlow::Break(());
        }
        signals.check()
    });
    drop(term);
    drop(engine);
    runtime::stop();
    eprintln!("push: engine stopped ({why})");
    signals.finish();
    Ok(())
}

/// `push_server_start(array $options = []): void` — runs the engine in the
/// background of this process.
pub(super) fn push_server_start(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    const F: &str = "push_server_start";
    let mut opts: *mut HashTable = ptr::null_mut();
    parse!(ex, c"|h", &mut opts);
    runtime::start(config(F, opts)?).map_err(|e| from_engine(F, &e))?;
    Ok(())
}

/// `push_server_stop(): void`
pub(super) fn push_server_stop(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    parse!(ex, c"");
    runtime::stop();
    Ok(())
}

/// `push_stats(): array`
pub(super) fn push_stats(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_stats";
    parse!(ex, c"");
    let fail =
        |e: ext_php_rs::error::Error| Fail::from(PhpException::from_message(format!("{F}(): {e}")));
    let mut ht = ZendHashTable::new();
    let engine = runtime::engine();
    let stats = runtime::engine_stats();
    let role = match (&engine, &stats) {
        (Some(_), _) => "engine",
        (None, Some(_)) => "worker",
        (None, None) => "idle",
    };
    let reached = stats.is_some();
    let stats = stats.unwrap_or_default();
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    ht.insert("role", role).map_err(fail)?;
    ht.insert("pid", i64::from(process::pid())).map_err(fail)?;
    ht.insert(
        "listen",
        engine.as_ref().map(|e| e.local_addr().to_string()),
    )
    .map_err(fail)?;
    let hub = &stats.hub;
    for (key, value) in [
        ("channels", hub.channels),
        ("subscribers", hub.subscribers),
        ("publications", hub.publications),
        ("history_messages", hub.history_messages),
        ("history_bytes", hub.history_bytes),
        ("lagged", hub.lagged),
        ("lost", hub.lost),
        ("collected", hub.collected),
    ] {
        ht.insert(key, int(value)).map_err(fail)?;
    }
    let c = &stats.connections;
    let mut connections = ZendHashTable::new();
    for (key, value) in [
        ("ws", c.ws),
        ("sse", c.sse),
        ("poll", c.poll),
        ("ipc", c.ipc),
        ("pusher", c.pusher),
    ] {
        connections.insert(key, int(value)).map_err(fail)?;
    }
    ht.insert("connections", connections).map_err(fail)?;
    for (key, value) in [
        ("deliveries", stats.deliveries),
        ("direct_writes", stats.direct_writes),
        ("drops", stats.drops),
        ("slow_disconnects", stats.slow_disconnects),
        ("queued_bytes", stats.queued_bytes),
    ] {
        ht.insert(key, int(value)).map_err(fail)?;
    }
    // No engine reached: no broker to speak of.
    ht.insert("broker", reached.then(|| stats.broker.as_str()))
        .map_err(fail)?;
    ht.insert("broker_reconnects", int(stats.broker_reconnects))
        .map_err(fail)?;
    ht.insert("ready", stats.ready).map_err(fail)?;
    let (rss, threads) = process_figures();
    ht.insert("memory_rss", rss).map_err(fail)?;
    ht.insert("threads", threads).map_err(fail)?;
    retval.set_hashtable(ht);
    Ok(())
}

/// Resident memory in bytes and thread count of this process (Linux).
pub fn process_figures() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}
