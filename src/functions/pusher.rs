//! push_pusher_auth() and push_pusher_signin(): what an app's
//! `/broadcasting/auth` endpoint answers for a Pusher private or presence
//! channel, and its `/broadcasting/user-auth` endpoint for a user signing
//! in, signed with this process's `push.pusher_secret` (the engine it
//! runs, else the INI values), so a plain PHP app needs no Pusher library.
//! The signing is the engine's (`edge::pusher::channels::grant`,
//! `edge::pusher::user::grant`).
//!
//! push_presence(): the members of a presence channel on every engine, from
//! the engine (in this process, or over the local socket).

use std::ffi::c_char;
use std::ptr;

use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::{ZendCallable, ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::config::Config;
use push_engine::edge::pusher::channels::valid_name;
use push_engine::edge::pusher::channels::{grant, GrantError};
use push_engine::edge::pusher::user;
use serde_json::Value;

use super::args::{bytes_of, type_name};
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, push_exception, type_error, value_error};
use crate::{ini, runtime, zend};

/// `push_pusher_auth(string $socketId, string $channel, ?string $channelData = null): string`
pub(super) fn push_pusher_auth(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_pusher_auth";
    let (mut socket, mut channel, mut data): (
        *mut zend_string,
        *mut zend_string,
        *mut zend_string,
    ) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    parse!(ex, c"SS|S!", &mut socket, &mut channel, &mut data);
    let text = |n: u32, name: &str, s: *mut zend_string| {
        std::str::from_utf8(bytes_of(s))
            .map_err(|_| Fail::from(value_error(F, n, name, "must be valid UTF-8")))
    };
    let socket = text(1, "socketId", socket)?;
    let channel = text(2, "channel", channel)?;
    let data = if data.is_null() {
        None
    } else {
        Some(text(3, "channelData", data)?)
    };
    let config = pusher_config(F)?;
    let answer = grant(&config, socket, channel, data).map_err(|e| {
        Fail::from(match e {
            GrantError::Off => off(F),
            GrantError::SocketId => bad_socket_id(F),
            GrantError::Channel => value_error(
                F,
                2,
                "channel",
                "must be a private-… or presence-… channel of 1 to 200 characters of \
                 A-Z a-z 0-9 _ - = @ , . ;",
            ),
            GrantError::ChannelData => value_error(
                F,
                3,
                "channelData",
                "must be a JSON object with a user_id for a presence channel",
            ),
            GrantError::NotPresence => value_error(
                F,
                3,
                "channelData",
                "must be null for a channel that is not a presence channel",
            ),
            GrantError::NoMasterKey => PhpException::new(
                format!(
                    "{F}(): private-encrypted- channels need push.pusher_encryption_master_key \
                     (the base64 of 32 bytes) to derive their shared secret"
                ),
                0,
                push_exception(),
            ),
            GrantError::UserData => value_error(F, 3, "channelData", "is not user data"),
        })
    })?;
    retval.set_zend_string(ZendStr::new(answer, false));
    Ok(())
}

/// The Pusher settings: the engine's this process runs, else php.ini's.
fn pusher_config(f: &str) -> Result<Config, Fail> {
    Ok(match runtime::engine() {
        Some(engine) => engine.hub().config().clone(),
        None => ini::config_of(&[
            "pusher_app_id",
            "pusher_key",
            "pusher_secret",
            "pusher_encryption_master_key",
        ])
        .map_err(|e| from_engine(f, &e))?,
    })
}

fn off(f: &str) -> PhpException {
    PhpException::new(
        format!(
            "{f}(): the Pusher protocol is off: set push.pusher_app_id, push.pusher_key \
             and push.pusher_secret"
        ),
        0,
        push_exception(),
    )
}

fn bad_socket_id(f: &str) -> PhpException {
    value_error(
        f,
        1,
        "socketId",
        "must be a Pusher socket id (digits.digits, as pusher-js sends it)",
    )
}

/// `push_pusher_signin(string $socketId, array|string $userData): string`
/// (`$userData` an array is encoded by PHP's `json_encode()`, as Pusher's
/// PHP library encodes it; a string is signed byte for byte).
pub(super) fn push_pusher_signin(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_pusher_signin";
    let (mut socket, mut data): (*mut zend_string, *mut Zval) = (ptr::null_mut(), ptr::null_mut());
    parse!(ex, c"Sz", &mut socket, &mut data);
    let socket = std::str::from_utf8(bytes_of(socket))
        .map_err(|_| Fail::from(value_error(F, 1, "socketId", "must be valid UTF-8")))?;
    // SAFETY: set by zend_parse_parameters ('z') to the argument, which
    // lives for the call.
    let data = unsafe { data.as_ref() }.map(Zval::dereference);
    let encoded;
    let user_data = match data {
        Some(v) if v.is_string() => v
            .zend_str()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        Some(v) if v.is_array() => {
            let json = ZendCallable::try_from_name("json_encode")
                .and_then(|f| f.try_call(vec![v]))
                .map_err(|_| Fail::Thrown)?;
            encoded = json.string().ok_or_else(|| {
                Fail::from(value_error(F, 2, "userData", "must be encodable as JSON"))
            })?;
            encoded.as_bytes().to_vec()
        }
        Some(v) => {
            return Err(Fail::from(type_error(
                F,
                2,
                "userData",
                format!("must be of type array|string, {} given", type_name(v)),
            )))
        }
        None => Vec::new(),
    };
    let user_data = std::str::from_utf8(&user_data)
        .map_err(|_| Fail::from(value_error(F, 2, "userData", "must be valid UTF-8")))?;
    let config = pusher_config(F)?;
    let answer = user::grant(&config, socket, user_data).map_err(|e| {
        Fail::from(match e {
            GrantError::SocketId => bad_socket_id(F),
            GrantError::Off => off(F),
            _ => value_error(
                F,
                2,
                "userData",
                "must be a JSON object whose id is a string of 1 to 200 characters of \
                 A-Z a-z 0-9 _ - = @ , . ;",
            ),
        })
    })?;
    retval.set_zend_string(ZendStr::new(answer, false));
    Ok(())
}

/// `push_presence(string $channel): array`: `[['id' => string, 'info' =>
/// mixed], …]`, `info` decoded from JSON as `json_decode($info, true)`
/// would (null when the member has none).
pub(super) fn push_presence(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_presence";
    let mut channel: *mut zend_string = ptr::null_mut();
    parse!(ex, c"S", &mut channel);
    let channel = std::str::from_utf8(bytes_of(channel))
        .ok()
        .filter(|c| c.starts_with("presence-") && valid_name(c))
        .ok_or_else(|| {
            Fail::from(value_error(
                F,
                1,
                "channel",
                "must be a presence-… channel of 1 to 200 characters of \
                 A-Z a-z 0-9 _ - = @ , . ;",
            ))
        })?;
    let members = runtime::presence(channel).map_err(|e| from_engine(F, &e))?;
    let fail =
        |e: ext_php_rs::error::Error| Fail::from(PhpException::from_message(format!("{F}(): {e}")));
    let mut list = ZendHashTable::new();
    for m in members {
        let mut member = ZendHashTable::new();
        member.insert("id", m.id.as_str()).map_err(fail)?;
        let info = match m.info.as_deref() {
            None => Value::Null,
            Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
        };
        member
            .insert("info", zval_of(&info).map_err(fail)?)
            .map_err(fail)?;
        list.push(member).map_err(fail)?;
    }
    retval.set_hashtable(list);
    Ok(())
}

/// A JSON value as PHP's `json_decode(…, true)` gives it.
fn zval_of(v: &Value) -> Result<Zval, ext_php_rs::error::Error> {
    let mut z = Zval::new();
    match v {
        Value::Null => z.set_null(),
        Value::Bool(b) => z.set_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => z.set_long(i),
            None => z.set_double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => z.set_string(s, false)?,
        Value::Array(items) => {
            let mut ht = ZendHashTable::new();
            for item in items {
                ht.push(zval_of(item)?)?;
            }
            z.set_hashtable(ht);
        }
        Value::Object(map) => {
            let mut ht = ZendHashTable::new();
            for (k, item) in map {
                ht.insert(k.as_str(), zval_of(item)?)?;
            }
            z.set_hashtable(ht);
        }
    }
    Ok(z)
}
