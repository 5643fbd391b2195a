//! mercure_publish() and push_mercure_link(): the Mercure hub from PHP.
//!
//! `mercure_publish()` has FrankenPHP's signature and behaviour, so
//! symfony/mercure's `FrankenPhpHub` works on push unchanged; it is
//! registered only where PHP has no function of that name yet (under
//! FrankenPHP, its own wins: see `lib.rs`). The update goes into the
//! engine's hub-wide Mercure log as the hub's `POST` puts it there
//! (`edge::mercure::publish::append`): in the engine's process directly,
//! elsewhere through the local socket.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::ptr;

use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::array::Iter;
use ext_php_rs::types::{ZendStr, Zval};
use ext_php_rs::zend::ExecuteData;
use push_engine::edge::mercure::update::Head;
use push_engine::edge::mercure::PATH;

use super::args::{bytes_of, type_name};
use super::{Fail, Outcome};
use crate::exceptions::{from_engine, push_exception, type_error, value_error};
use crate::{ini, runtime, zend};

/// `mercure_publish(string|array $topics, string $data = '', bool $private = false, ?string $id = null, ?string $type = null, ?int $retry = null): string`
pub(super) fn mercure_publish(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "mercure_publish";
    let mut topics: *mut Zval = ptr::null_mut();
    let (mut data, mut id, mut kind): (*mut zend_string, *mut zend_string, *mut zend_string) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let mut private = false;
    let (mut retry, mut no_retry): (i64, bool) = (0, true);
    parse!(
        ex,
        c"z|S!bS!S!l!",
        &mut topics,
        &mut data,
        &mut private,
        &mut id,
        &mut kind,
        &mut retry,
        &mut no_retry
    );
    let text = |n: u32, name: &str, s: *mut zend_string| -> Result<Option<String>, Fail> {
        if s.is_null() {
            return Ok(None);
        }
        std::str::from_utf8(bytes_of(s))
            .map(|s| Some(s.to_owned()))
            .map_err(|_| Fail::from(value_error(F, n, name, "must be valid UTF-8")))
    };
    // SAFETY: set by zend_parse_parameters ('z') to the argument, which
    // lives for the call.
    let topics = unsafe { topics.as_ref() }.map(Zval::dereference);
    let topics = match topics {
        Some(t) if t.is_string() => vec![topic(F, t)?],
        Some(t) if t.is_array() => topic_list(F, t)?,
        t => {
            let given = t.map_or_else(|| "null".into(), type_name);
            return Err(type_error(
                F,
                1,
                "topics",
                format!("must be of type array|string, {given} given"),
            )
            .into());
        }
    };
    let data = text(2, "data", data)?.unwrap_or_default();
    if !no_retry && retry < 0 {
        return Err(value_error(F, 6, "retry", "must be greater than or equal to 0").into());
    }
    let head = Head {
        topics,
        private,
        id: text(4, "id", id)?,
        kind: text(5, "type", kind)?,
        retry: (!no_retry).then_some(retry as u64),
    };
    let id = runtime::mercure_publish(head, data.as_bytes()).map_err(|e| match e {
        push_engine::Error::MessageTooLarge { size, max } => value_error(
            F,
            2,
            "data",
            format!("must be at most {max} bytes (push.max_message_size), {size} given"),
        ),
        e => from_engine(F, &e),
    })?;
    retval.set_zend_string(ZendStr::new(id, false));
    Ok(())
}

/// A topic given as a string: UTF-8, as Mercure's topics are.
fn topic(func: &str, value: &Zval) -> Result<String, Fail> {
    let bytes = value.zend_str().map_or(&[][..], |s| s.as_bytes());
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| Fail::from(value_error(func, 1, "topics", "must be valid UTF-8")))
}

/// The topics of an array: strings only, as FrankenPHP takes them.
fn topic_list(func: &str, list: &Zval) -> Result<Vec<String>, Fail> {
    let Some(ht) = list.array() else {
        return Ok(Vec::new());
    };
    let mut topics = Vec::with_capacity(ht.len());
    // Values as raw zvals (ext-php-rs's own iterator panics on a string
    // key that is not UTF-8), behind references as PHP reads them.
    let mut entries = Iter::new(ht);
    while let Some((_, value)) = entries.next_zval() {
        let value = value.dereference();
        if !value.is_string() {
            let given = type_name(value);
            return Err(type_error(
                func,
                1,
                "topics",
                format!("must contain only strings, {given} given"),
            )
            .into());
        }
        topics.push(topic(func, value)?);
    }
    Ok(topics)
}

/// `push_mercure_link(): string`: the value of the discovery `Link`
/// header, `<URL>; rel="mercure"`. The URL is `push.mercure_public_url`,
/// else `http://` and the address the engine listens on.
pub(super) fn push_mercure_link(ex: &mut ExecuteData, retval: &mut Zval) -> Outcome {
    const F: &str = "push_mercure_link";
    parse!(ex, c"");
    let (public, listen) = match runtime::engine() {
        Some(engine) => (
            engine.hub().config().mercure_public_url.clone(),
            engine.local_addr().to_string(),
        ),
        None => {
            let config = ini::config_of(&["mercure_public_url", "listen"])
                .map_err(|e| from_engine(F, &e))?;
            (config.mercure_public_url, config.listen)
        }
    };
    // An address browsers can reach: not 0.0.0.0, [::] or port 0.
    let reachable = match listen.parse::<SocketAddr>() {
        Ok(addr) => !addr.ip().is_unspecified() && addr.port() != 0,
        Err(_) => listen.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0)
        }),
    };
    if public.is_empty() && !reachable {
        let reason = format!(
            "{F}(): push.listen ({listen}) is no address a browser can reach \
             (0.0.0.0, [::] or port 0): set push.mercure_public_url to the hub's public URL"
        );
        return Err(PhpException::new(reason, 0, push_exception()).into());
    }
    let url = match public.is_empty() {
        false => public,
        true => format!("http://{listen}{PATH}"),
    };
    retval.set_zend_string(ZendStr::new(format!("<{url}>; rel=\"mercure\""), false));
    Ok(())
}
