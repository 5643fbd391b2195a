//! Argument helpers: strings and options arrays as PHP parsed them.

use ext_php_rs::ffi::{zend_string, HashTable};
use ext_php_rs::types::array::Iter;
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use push_engine::message::validate_channel;

use super::Fail;
use crate::exceptions::{type_error, value_error};

pub(super) fn bytes_of<'a>(s: *mut zend_string) -> &'a [u8] {
    // SAFETY: set by zend_parse_parameters to a string that lives for the call.
    unsafe { s.as_ref() }.map_or(&[][..], |s: &ZendStr| s.as_bytes())
}

pub(super) fn channel_arg<'a>(func: &str, s: *mut zend_string) -> Result<&'a str, Fail> {
    validate_channel(bytes_of(s)).map_err(|_| {
        Fail::from(value_error(
            func,
            1,
            "channel",
            "must be 1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;",
        ))
    })
}

/// Reads an options array: string keys from `allowed`, scalar values, as
/// the strings INI would hold.
pub(super) fn options(
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
    // Keys as raw zvals: ext-php-rs's own iterator panics on a string key
    // that is not UTF-8.
    let mut entries = Iter::new(ht);
    while let Some((key, value)) = entries.next_zval() {
        // `['binary' => &$flag]`: the value behind the reference, as PHP's
        // own functions read it.
        let value = value.dereference();
        if let Some(i) = key.long().filter(|_| key.is_long()) {
            return Err(value_error(
                func,
                n,
                "options",
                format!("must have string keys, {i} given"),
            )
            .into());
        }
        let key = key
            .zend_str()
            .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
            .unwrap_or_default();
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

/// A boolean option, read as PHP reads a boolean INI value: `true`/`false`
/// (which [`options`] gave as "1"/"0"), a number (non-zero: true), or one
/// of on/yes/true and off/no/false/none/"" in any case. Anything else is
/// a `ValueError`, not a quiet false.
pub(super) fn flag(func: &str, n: u32, key: &str, value: &str) -> Result<bool, Fail> {
    let v = value.trim();
    if let Ok(i) = v.parse::<i64>() {
        return Ok(i != 0);
    }
    if let Some(f) = v.parse::<f64>().ok().filter(|f| f.is_finite()) {
        return Ok(f != 0.0);
    }
    let word = v.to_ascii_lowercase();
    match word.as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" | "none" | "" => Ok(false),
        _ => {
            let shown: String = value.chars().take(80).collect();
            Err(value_error(
                func,
                n,
                "options",
                format!("[\"{key}\"] must be a boolean (true, false, 1, 0, \"on\", \"off\", \"yes\", \"no\"), \"{shown}\" given"),
            )
            .into())
        }
    }
}

/// PHP's name of a value's type, as its TypeErrors give it.
pub(super) fn type_name(v: &Zval) -> String {
    if v.is_null() {
        "null".into()
    } else if v.is_bool() {
        "bool".into()
    } else if v.is_long() {
        "int".into()
    } else if v.is_double() {
        "float".into()
    } else if v.is_array() {
        "array".into()
    } else if let Some(o) = v.object() {
        o.get_class_name().unwrap_or_else(|_| "object".into())
    } else {
        "resource".into()
    }
}
