//! The engine's one error type.

use std::io;

/// Everything that can go wrong in the engine, with a message fit for the
/// person who has to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid channel name {0:?}: use 1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;"
    )]
    InvalidChannel(String),

    #[error("channel {0:?} is reserved for the engine's own use (names beginning with .push/)")]
    ReservedChannel(String),

    #[error("invalid message id {0:?}: pass an id returned by push (such as from push_send() or Push\\Message::$id)")]
    InvalidId(String),

    #[error("message of {size} bytes is larger than push.max_message_size ({max} bytes)")]
    MessageTooLarge { size: usize, max: usize },

    #[error("invalid event name {0:?}: use 1 to 200 bytes, no line breaks")]
    InvalidEvent(String),

    #[error("too many channels: push.max_channels ({0}) are open")]
    TooManyChannels(usize),

    #[error("unknown setting push.{0}")]
    UnknownSetting(String),

    #[error("invalid value {value:?} for push.{name}: {reason}")]
    InvalidSetting {
        name: String,
        value: String,
        reason: String,
    },

    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },

    #[error("cannot start the engine runtime: {0}")]
    Runtime(io::Error),

    #[error("the push engine is already running in this process (listening on {0})")]
    AlreadyRunning(String),

    #[error("no push engine runs in this process and none answers on {socket}: start one with push_serve() (bin/push-server) or push_server_start()")]
    NotRunning { socket: String },

    #[error("permission denied on the local socket {socket}: this process's user may not connect to the push engine (see push.socket_group and push.socket_mode)")]
    SocketPermission { socket: String },

    #[error("the push engine on {socket} refused the connection: push.max_workers ({max}) connections are open on its local socket")]
    TooManyWorkers { socket: String, max: usize },

    #[error("this wait began in process {pid}: a forked child cannot go on with it (call push_get_message() again)")]
    Forked { pid: u32 },

    #[error("the push engine is shutting down")]
    ShuttingDown,

    #[error("cannot use the local socket {path}: {source}")]
    Socket { path: String, source: io::Error },

    #[error("another push engine is already running on {0} (one engine per host; stop it, or set another push.socket)")]
    SocketInUse(String),

    #[error("the push engine on {socket} did not answer within {after:?}")]
    Timeout {
        socket: String,
        after: std::time::Duration,
    },

    #[error("local socket protocol error: {0}")]
    Protocol(String),

    #[error("invalid Mercure update: {0}")]
    InvalidUpdate(String),

    #[error("the Mercure hub is off in the push engine: set push.mercure = On where the engine runs (push_serve(), push_server_start() or bin/push-server)")]
    MercureOff,

    #[error("the Redis broker is unavailable ({0}): nothing was published; connected subscribers keep their connections and the engine reconnects by itself")]
    Broker(String),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
