//! push_send() and push_get_message().

use std::ffi::c_char;
use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::{zend_string, HashTable};
use ext_php_rs::types::{ZendStr, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::edge::pusher::channels::valid_socket_id;
use push_engine::message::{validate_event, Origin};
use push_engine::{Cursor, Id, Outgoing};

use super::args::*;
use super::signals::PhpSignals;
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, value_error};
use crate::message::new_message;
use crate::runtime;
use crate::zend;

/// `push_send(string $channel, string $message, array $options = []): string`
pub(super) fn push_send(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_send";
    let (mut channel, mut message, mut opts): (*mut zend_string, *mut zend_string, *mut HashTable) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    parse!(ex, c"SS|h", &mut channel, &mut message, &mut opts);
    let name = channel_arg(F, channel)?;
    let mut out = Outgoing::new(Bytes::copy_from_slice(bytes_of(message)));
    for (key, value) in options(F, 3, opts, &["event", "binary", "except"])? {
        match (key.as_str(), value) {
            ("event", Some(event)) => {
                validate_event(&event).map_err(|_| {
                    value_error(
                        F,
                        3,
                        "options",
                        "[\"event\"] must be 1 to 200 bytes without line breaks",
                    )
                })?;
                out = out.event(event);
            }
            ("binary", Some(v)) if flag(F, 3, "binary", &v)? => out = out.binary(),
            // Laravel's toOthers(): that Pusher connection does not get it
            // (null, as a broadcast without X-Socket-ID gives: everyone).
            ("except", Some(socket)) => {
                if !valid_socket_id(&socket) {
                    return Err(value_error(
                        F,
                        3,
                        "options",
                        "[\"except\"] must be a Pusher socket id (digits.digits, as pusher-js sends it)",
                    )
                    .into());
                }
                out = out.origin(Origin {
                    connection: socket,
                    user: None,
                });
            }
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
pub(super) fn push_get_message(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
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
