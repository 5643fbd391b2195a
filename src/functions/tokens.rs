//! push_token(): mints a subscription token in this process (no engine
//! needed). The key: `$options['secret']`, else the `push.secret` of the
//! engine this process runs, else the INI value.

use std::ffi::c_char;
use std::ptr;

use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::HashTable;
use ext_php_rs::types::array::Iter;
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::auth::token::{self, MAX_TTL};
use push_engine::config::Secret;

use super::args::{flag, options, type_name};
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, type_error, value_error};
use crate::{ini, runtime, zend};

/// `push_token(array $channels, int $ttl = 3600, array $options = []): string`
pub(super) fn push_token(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_token";
    let (mut list, mut ttl, mut opts): (*mut HashTable, i64, *mut HashTable) =
        (ptr::null_mut(), 3600, ptr::null_mut());
    parse!(ex, c"h|lh", &mut list, &mut ttl, &mut opts);
    // SAFETY: set by zend_parse_parameters ('h') to an array that lives for the call.
    let list = unsafe { (list as *const ZendHashTable).as_ref() };
    let mut channels: Vec<String> = Vec::new();
    // Keys as raw zvals (ext-php-rs's own iterator panics on a string key
    // that is not UTF-8); values behind references (a list after
    // `foreach ($list as &$v)`) as PHP's own functions read them.
    let mut entries = list.map(Iter::new);
    while let Some((_, value)) = entries.as_mut().and_then(Iter::next_zval) {
        let value = value.dereference();
        let Some(s) = value.zend_str().filter(|_| value.is_string()) else {
            let given = type_name(value);
            return Err(type_error(
                F,
                1,
                "channels",
                format!("must be an array of strings, {given} given"),
            )
            .into());
        };
        let name = std::str::from_utf8(s.as_bytes())
            .ok()
            .filter(|n| token::valid_pattern(n))
            .ok_or_else(|| {
                let shown: String = String::from_utf8_lossy(s.as_bytes())
                    .chars()
                    .take(80)
                    .collect();
                value_error(
                    F,
                    1,
                    "channels",
                    format!(
                        "must hold channel names or prefixes ending in * \
                         (1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;), \"{shown}\" given"
                    ),
                )
            })?;
        channels.push(name.to_owned());
    }
    if channels.is_empty() {
        return Err(value_error(F, 1, "channels", "must not be empty").into());
    }
    let ttl = u64::try_from(ttl)
        .ok()
        .filter(|t| (1..=MAX_TTL).contains(t))
        .ok_or_else(|| value_error(F, 2, "ttl", format!("must be between 1 and {MAX_TTL}")))?;
    let mut publish = false;
    let mut secret = None;
    for (key, value) in options(F, 3, opts, &["secret", "publish"])? {
        match (key.as_str(), value) {
            ("publish", Some(v)) => publish = flag(F, 3, "publish", &v)?,
            ("secret", Some(v)) => {
                let s = Secret::parse(&v)
                    .map_err(|e| value_error(F, 3, "options", format!("[\"secret\"] {e}")))?;
                secret = Some(s);
            }
            _ => {}
        }
    }
    // The engine this process runs (started with its own options), else
    // the INI values.
    let (own_secret, max_size) = match runtime::engine() {
        Some(engine) => {
            let c = engine.hub().config();
            (c.secret.clone(), c.max_token_size)
        }
        None => {
            let c =
                ini::config_of(&["secret", "max_token_size"]).map_err(|e| from_engine(F, &e))?;
            (c.secret, c.max_token_size)
        }
    };
    let secret = secret.unwrap_or(own_secret);
    if secret.is_empty() {
        return Err(PhpException::new(
            format!("{F}(): push.secret is not set: set it in php.ini (the engine's key, at least 32 bytes) or pass $options['secret']"),
            0,
            crate::exceptions::push_exception(),
        )
        .into());
    }
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    let minted = token::mint(secret.expose(), &names, publish, ttl, token::now());
    if minted.len() > max_size {
        return Err(value_error(
            F,
            1,
            "channels",
            format!(
                "make a token of {} bytes, more than push.max_token_size ({} bytes): grant fewer channels, or prefixes",
                minted.len(),
                max_size
            ),
        )
        .into());
    }
    retval.set_zend_string(ZendStr::new(minted, false));
    Ok(())
}
