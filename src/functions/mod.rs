//! The `push_*` functions: parse arguments with PHP's own parser, call the
//! engine, map errors. No engine logic lives here.
//!
//! The handlers are written by hand (not with `#[php_function]`) so that
//! arguments go through `zend_parse_parameters`: weak-mode coercion,
//! `strict_types`, Stringable objects and TypeError messages are exactly
//! PHP's, while Reflection still shows typed parameters.

use std::panic::AssertUnwindSafe;

use ext_php_rs::args::Arg;
use ext_php_rs::builders::FunctionBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::Zval;
use ext_php_rs::zend::{run_handler, ExecuteData};

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

handler!(push_send_handler, messages::push_send);
handler!(push_get_message_handler, messages::push_get_message);
handler!(push_serve_handler, server::push_serve);
handler!(push_server_start_handler, server::push_server_start);
handler!(push_server_stop_handler, server::push_server_stop);
handler!(push_stats_handler, server::push_stats);
handler!(push_token_handler, tokens::push_token);
handler!(push_pusher_auth_handler, pusher::push_pusher_auth);
handler!(mercure_publish_handler, mercure::mercure_publish);
handler!(push_mercure_link_handler, mercure::push_mercure_link);
handler!(push_pusher_signin_handler, pusher::push_pusher_signin);
handler!(push_presence_handler, pusher::push_presence);

/// Calls `zend_parse_parameters` with the given spec and out-pointers.
macro_rules! parse {
    ($ex:expr, $spec:expr $(, $out:expr)*) => {{
        let zpp = zend::parse_parameters()
            .ok_or_else(|| PhpException::from_message("push: zend_parse_parameters not found".into()))?;
        // SAFETY: the spec's letters match the out-pointers' types (S:
        // zend_string**, h: HashTable**, d: double*, l: zend_long*, S!:
        // nullable zend_string**, z: zval**, b: bool*, l!: zend_long* and
        // bool*); we are inside the function call PHP is making.
        let rc = unsafe { zpp(zend::num_args($ex), $spec.as_ptr() as *const c_char $(, $out)*) };
        if rc != 0 {
            return Err(Fail::Thrown);
        }
    }};
}

mod args;
mod mercure;
mod messages;
mod pusher;
mod server;
mod signals;
mod tokens;

/// The functions, with their Reflection signatures; `mercure_publish()`
/// only if `with_mercure_publish` (PHP has none of that name yet).
pub fn builders(with_mercure_publish: bool) -> Vec<FunctionBuilder<'static>> {
    let options = || Arg::new("options", DataType::Array).default("[]");
    let nullable = |name: &str, ty: DataType| Arg::new(name, ty).allow_null().default("null");
    let mut functions = vec![
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
        FunctionBuilder::new("push_token", push_token_handler)
            .arg(Arg::new("channels", DataType::Array))
            .not_required()
            .arg(Arg::new("ttl", DataType::Long).default("3600"))
            .arg(options())
            .returns(DataType::String, false, false),
        FunctionBuilder::new("push_pusher_auth", push_pusher_auth_handler)
            .arg(Arg::new("socketId", DataType::String))
            .arg(Arg::new("channel", DataType::String))
            .not_required()
            .arg(
                Arg::new("channelData", DataType::String)
                    .allow_null()
                    .default("null"),
            )
            .returns(DataType::String, false, false),
        FunctionBuilder::new("push_pusher_signin", push_pusher_signin_handler)
            .arg(Arg::new("socketId", DataType::String))
            .arg(Arg::new("userData", DataType::Mixed))
            .returns(DataType::String, false, false),
        FunctionBuilder::new("push_presence", push_presence_handler)
            .arg(Arg::new("channel", DataType::String))
            .returns(DataType::Array, false, false),
        FunctionBuilder::new("push_mercure_link", push_mercure_link_handler).returns(
            DataType::String,
            false,
            false,
        ),
    ];
    if with_mercure_publish {
        functions.push(
            FunctionBuilder::new("mercure_publish", mercure_publish_handler)
                .arg(Arg::new("topics", DataType::Mixed))
                .not_required()
                .arg(Arg::new("data", DataType::String).default("''"))
                .arg(Arg::new("private", DataType::Bool).default("false"))
                .arg(nullable("id", DataType::String))
                .arg(nullable("type", DataType::String))
                .arg(nullable("retry", DataType::Long))
                .returns(DataType::String, false, false),
        );
    }
    functions
}
