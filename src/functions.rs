//! The `push_*` functions: parse arguments with PHP's own parser, call the
//! engine, map errors. No engine logic lives here.
//!
//! The handlers are written by hand (not with `#[php_function]`) so that
//! arguments go through `zend_parse_parameters`: weak-mode coercion,
//! `strict_types`, Stringable objects and TypeError messages are exactly
//! PHP's, while Reflection still shows typed parameters.

use std::ffi::c_char;
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use ext_php_rs::args::Arg;
use ext_php_rs::builders::FunctionBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::{zend_string, HashTable};
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ArrayKey, ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::{bailout, run_handler, try_catch, CatchError, ExecuteData, ExecutorGlobals};
use push_engine::message::{validate_channel, validate_event};
use push_engine::process::{self, TermSignals};
use push_engine::{Config, Cursor, Id, Outgoing};

use crate::exceptions::{from_engine, type_error, value_error};
use crate::message::new_message;
use crate::zend::{self, Interrupt};
use crate::{ini, runtime};

/// Why a call did not complete.
enum Fail {
    /// An exception is already pending (thrown by PHP's argument parser or
    /// by a signal handler).
    Thrown,
    Exception(PhpException),
}

impl From<PhpException> for Fail {
    fn from(e: PhpException) -> Self {
        Fail::Exception(e)
    }
}

type Outcome = Result<(), Fail>;

/// Wraps a body as an `extern "C"` handler that no panic or bailout escapes
/// untidily.
macro_rules! handler {
    ($name:ident, $body:path) => {
        extern "C" fn $name(ex: &mut ExecuteData, retval: &mut Zval) {
            run_handler(AssertUnwindSafe(|| {
                if let Err(Fail::Exception(e)) = $body(ex, retval) {
                    e.throw();
                }
            }));
        }
    };
}

handler!(push_send_handler, push_send);
handler!(push_get_message_handler, push_get_message);
handler!(push_serve_handler, push_serve);
handler!(push_server_start_handler, push_server_start);
handler!(push_server_stop_handler, push_server_stop);
handler!(push_stats_handler, push_stats);

/// The functions, with their Reflection signatures.
pub fn builders() -> Vec<FunctionBuilder<'static>> {
    let options = || Arg::new("options", DataType::Array).default("[]");
    vec![
        FunctionBuilder::new("push_send", push_send_handler)
            .arg(Arg::new("channel", DataType::String))
            .arg(Arg::new("message", DataType::String))
            .not_required()
            .arg(options())
            .returns(DataType::String, false, false),
        FunctionBuilder::new("push_get_message", push_get_message_handler)
            .arg(Arg::new("channel", DataType::String))
            .not_required()
            .arg(Arg::new("timeout", DataType::Double).default("30.0"))
            .arg(
                Arg::new("lastId", DataType::String)
                    .allow_null()
                    .default("null"),
            )
            .returns(DataType::Object("Push\\Message".into()), false, true),
        FunctionBuilder::new("push_serve", push_serve_handler)
            .not_required()
            .arg(options())
            .returns(DataType::Void, false, false),
        FunctionBuilder::new("push_server_start", push_server_start_handler)
            .not_required()
            .arg(options())
            .returns(DataType::Void, false, false),
        FunctionBuilder::new("push_server_stop", push_server_stop_handler).returns(
            DataType::Void,
            false,
            false,
        ),
        FunctionBuilder::new("push_stats", push_stats_handler).returns(
            DataType::Array,
            false,
            false,
        ),
    ]
}

/// Calls `zend_parse_parameters` with the given spec and out-pointers.
macro_rules! parse {
    ($ex:expr, $spec:expr $(, $out:expr)*) => {{
        let zpp = zend::parse_parameters()
            .ok_or_else(|| PhpException::from_message("push: zend_parse_parameters not found".into()))?;
        // SAFETY: the spec's letters match the out-pointers' types (S:
        // zend_string**, h: HashTable**, d: double*, S!: nullable
        // zend_string**); we are inside the function call PHP is making.
        let rc = unsafe { zpp(zend::num_args($ex), $spec.as_ptr() as *const c_char $(, $out)*) };
        if rc != 0 {
            return Err(Fail::Thrown);
        }
    }};
}

fn bytes_of<'a>(s: *mut zend_string) -> &'a [u8] {
    // SAFETY: set by zend_parse_parameters to a string that lives for the call.
    unsafe { s.as_ref() }.map_or(&[][..], |s: &ZendStr| s.as_bytes())
}

fn channel_arg<'a>(func: &str, s: *mut zend_string) -> Result<&'a str, Fail> {
    validate_channel(bytes_of(s)).map_err(|_| {
        Fail::from(value_error(
            func,
            1,
            "channel",
            "must be 1 to 255 characters of A-Z a-z 0-9 _ . : @ / -",
        ))
    })
}

/// Reads an options array: string keys from `allowed`, scalar values, as
/// the strings INI would hold.
fn options(
    func: &str,
    n: u32,
    ht: *mut HashTable,
    allowed: &[&str],
) -> Result<Vec<(String, Option<String>)>, Fail> {
    // SAFETY: set by zend_parse_parameters ('h') to an array that lives for the call.
    let Some(ht) = (unsafe { (ht as *const ZendHashTable).as_ref() }) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, value) in ht.iter() {
        let key = match key {
            ArrayKey::String(s) => s,
            ArrayKey::Str(s) => s.to_owned(),
            ArrayKey::ZendString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            ArrayKey::Long(i) => {
                return Err(value_error(
                    func,
                    n,
                    "options",
                    format!("must have string keys, {i} given"),
                )
                .into())
            }
        };
        if !allowed.contains(&key.as_str()) {
            let known = allowed.join(", ");
            return Err(value_error(
                func,
                n,
                "options",
                format!("has unknown key \"{key}\" (known: {known})"),
            )
            .into());
        }
        let value = if value.is_null() {
            None
        } else if let Some(b) = value.bool().filter(|_| value.is_bool()) {
            Some(if b { "1" } else { "0" }.to_owned())
        } else if let Some(l) = value.long().filter(|_| value.is_long()) {
            Some(l.to_string())
        } else if let Some(d) = value.double().filter(|_| value.is_double()) {
            Some(d.to_string())
        } else if let Some(s) = value.zend_str() {
            let s = std::str::from_utf8(s.as_bytes()).map_err(|_| {
                value_error(
                    func,
                    n,
                    "options",
                    format!("[\"{key}\"] must be valid UTF-8"),
                )
            })?;
            Some(s.to_owned())
        } else {
            let given = value.get_type().to_string().to_lowercase();
            return Err(type_error(
                func,
                n,
                "options",
                format!("[\"{key}\"] must be of type string|int|float|bool, {given} given"),
            )
            .into());
        };
        out.push((key, value));
    }
    Ok(out)
}

/// `push_send(string $channel, string $message, array $options = []): string`
fn push_send(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_send";
    let (mut channel, mut message, mut opts): (*mut zend_string, *mut zend_string, *mut HashTable) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    parse!(ex, c"SS|h", &mut channel, &mut message, &mut opts);
    let name = channel_arg(F, channel)?;
    let mut out = Outgoing::new(Bytes::copy_from_slice(bytes_of(message)));
    for (key, value) in options(F, 3, opts, &["event", "binary"])? {
        match (key.as_str(), value) {
            ("event", Some(event)) => {
                validate_event(&event).map_err(|_| {
                    value_error(
                        F,
                        3,
                        "options",
                        "[\"event\"] must be 1 to 64 characters without line breaks",
                    )
                })?;
                out = out.event(event);
            }
            ("binary", Some(flag)) if flag == "1" => out = out.binary(),
            _ => {}
        }
    }
    let id = runtime::publish(name, out).map_err(|e| match e {
        push_engine::Error::MessageTooLarge { size, max } => value_error(
            F,
            2,
            "message",
            format!("must be at most {max} bytes (push.max_message_size), {size} given"),
        ),
        e => from_engine(F, &e),
    })?;
    retval.set_zend_string(ZendStr::new(id.to_string(), false));
    Ok(())
}

/// Longest wait accepted by push_get_message().
const MAX_TIMEOUT: f64 = 86_400.0;

/// `push_get_message(string $channel, float $timeout = 30.0, ?string $lastId = null): ?Push\Message`
fn push_get_message(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_get_message";
    let (mut channel, mut timeout, mut last): (*mut zend_string, f64, *mut zend_string) =
        (ptr::null_mut(), 30.0, ptr::null_mut());
    parse!(ex, c"S|dS!", &mut channel, &mut timeout, &mut last);
    let name = channel_arg(F, channel)?;
    if !(0.0..=MAX_TIMEOUT).contains(&timeout) {
        return Err(value_error(
            F,
            2,
            "timeout",
            format!("must be between 0 and {MAX_TIMEOUT}"),
        )
        .into());
    }
    let explicit = if last.is_null() {
        None
    } else {
        let raw = bytes_of(last);
        let id = std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.parse::<Id>().ok())
            .ok_or_else(|| {
                value_error(
                    F,
                    3,
                    "lastId",
                    "must be a message id returned by push (such as Push\\Message::$id)",
                )
            })?;
        Some(id)
    };
    let cursor = match explicit.or_else(|| runtime::with_cursors(|c| c.get(name))) {
        Some(id) => Cursor::After(id),
        None => Cursor::Live,
    };
    let mut signals = PhpSignals::default();
    let waited = runtime::wait(name, cursor, Duration::from_secs_f64(timeout), &mut || {
        signals.check()
    })
    .map_err(|e| from_engine(F, &e));
    signals.finish();
    let waited = waited?;
    if waited.interrupted {
        // A signal handler threw, or max_execution_time ran out: PHP takes
        // it from here; the cursor stays where it was.
        return Err(Fail::Thrown);
    }
    runtime::with_cursors(|c| c.set(name, waited.position));
    match waited.publication {
        Some(p) => {
            *retval = new_message(&p, waited.lost.is_some())?;
        }
        None => retval.set_null(),
    }
    Ok(())
}

/// Lets PHP run its pending signal handlers while a call blocks, and keeps
/// a bail-out (exit() in a handler) from jumping over Rust frames: it is
/// caught here and re-raised by [`PhpSignals::finish`] once the frames that
/// hold resources have returned.
#[derive(Default)]
struct PhpSignals {
    bailed_out: bool,
}

impl PhpSignals {
    fn check(&mut self) -> ControlFlow<()> {
        // SAFETY: called on the PHP thread during a function call, inside
        // try_catch's zend_try.
        match try_catch(AssertUnwindSafe(|| unsafe { zend::handle_interrupt() })) {
            Ok(Interrupt::None) => ControlFlow::Continue(()),
            Ok(Interrupt::Handled) if !ExecutorGlobals::has_exception() => {
                ControlFlow::Continue(())
            }
            Ok(_) => ControlFlow::Break(()),
            Err(CatchError::Bailout) => {
                self.bailed_out = true;
                ControlFlow::Break(())
            }
            Err(_) => ControlFlow::Break(()),
        }
    }

    fn finish(self) {
        if self.bailed_out {
            // SAFETY: every Rust frame that owned resources has returned; the
            // caller's run_handler re-raises through its own zend_try.
            unsafe { bailout() }
        }
    }
}

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
fn push_serve(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    const F: &str = "push_serve";
    let mut opts: *mut HashTable = ptr::null_mut();
    parse!(ex, c"|h", &mut opts);
    let engine = runtime::start(config(F, opts)?).map_err(|e| from_engine(F, &e))?;
    eprintln!(
        "push: engine listening on http://{} (pid {}); stop with Ctrl-C or SIGTERM",
        engine.local_addr(),
        process::pid()
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
fn push_server_start(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    const F: &str = "push_server_start";
    let mut opts: *mut HashTable = ptr::null_mut();
    parse!(ex, c"|h", &mut opts);
    runtime::start(config(F, opts)?).map_err(|e| from_engine(F, &e))?;
    Ok(())
}

/// `push_server_stop(): void`
fn push_server_stop(ex: &mut ExecuteData, _retval: &mut Zval) -> Outcome {
    parse!(ex, c"");
    runtime::stop();
    Ok(())
}

/// `push_stats(): array`
fn push_stats(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
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
    let stats = stats.unwrap_or_default();
    ht.insert("role", role).map_err(fail)?;
    ht.insert("pid", i64::from(process::pid())).map_err(fail)?;
    ht.insert(
        "listen",
        engine.as_ref().map(|e| e.local_addr().to_string()),
    )
    .map_err(fail)?;
    for (key, value) in [
        ("channels", stats.channels),
        ("subscribers", stats.subscribers),
        ("publications", stats.publications),
        ("history_messages", stats.history_messages),
        ("history_bytes", stats.history_bytes),
        ("lagged", stats.lagged),
        ("lost", stats.lost),
        ("collected", stats.collected),
    ] {
        ht.insert(key, i64::try_from(value).unwrap_or(i64::MAX))
            .map_err(fail)?;
    }
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
