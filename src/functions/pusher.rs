//! push_pusher_auth(): what an app's `/broadcasting/auth` endpoint answers
//! for a Pusher private or presence channel, signed with this process's
//! `push.pusher_secret` (the engine it runs, else the INI values), so a
//! plain PHP app needs no Pusher library. The signing is the engine's
//! (`edge::pusher::channels::grant`).

use std::ffi::c_char;
use std::ptr;

use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::{ZendStr, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::edge::pusher::channels::{grant, GrantError};

use super::args::bytes_of;
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, push_exception, value_error};
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
    let config = match runtime::engine() {
        Some(engine) => engine.hub().config().clone(),
        None => ini::config_of(&["pusher_app_id", "pusher_key", "pusher_secret"])
            .map_err(|e| from_engine(F, &e))?,
    };
    let answer = grant(&config, socket, channel, data).map_err(|e| {
        Fail::from(match e {
            GrantError::Off => PhpException::new(
                format!(
                    "{F}(): the Pusher protocol is off: set push.pusher_app_id, push.pusher_key \
                     and push.pusher_secret"
                ),
                0,
                push_exception(),
            ),
            GrantError::SocketId => value_error(
                F,
                1,
                "socketId",
                "must be a Pusher socket id (digits.digits, as pusher-js sends it)",
            ),
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
        })
    })?;
    retval.set_zend_string(ZendStr::new(answer, false));
    Ok(())
}
