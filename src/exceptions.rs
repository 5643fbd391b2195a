//! The `Push\` exception classes and the one mapping from engine errors to
//! PHP exceptions.
//!
//! The classes are registered by hand at module start-up (not with
//! `#[php_class]`), so they are ordinary PHP exception classes that PHP code
//! can instantiate, extend and catch.

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::{ce, ClassEntry};
use push_engine::Error;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::zend;

/// Class entries, set once at module start-up; PHP owns them for the life
/// of the process.
static PUSH_EXCEPTION: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());
static CONNECTION_EXCEPTION: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());
static TIMEOUT_EXCEPTION: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());

fn get(cell: &AtomicPtr<ClassEntry>) -> Option<&'static ClassEntry> {
    // SAFETY: only ever set to class entries that PHP keeps until shutdown.
    unsafe { cell.load(Ordering::Acquire).as_ref() }
}

fn set(cell: &AtomicPtr<ClassEntry>, ce: &'static mut ClassEntry) {
    cell.store(ce, Ordering::Release);
}

fn runtime_exception() -> &'static ClassEntry {
    zend::runtime_exception().unwrap_or_else(ce::exception)
}

/// `Push\PushException` (or `RuntimeException` before start-up registered it).
pub fn push_exception() -> &'static ClassEntry {
    get(&PUSH_EXCEPTION).unwrap_or_else(runtime_exception)
}

/// Registers the exception classes. Called once, at module start-up.
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new("Push\\PushException")
        .extends((runtime_exception, "\\RuntimeException"))
        .registration(|ce, _| {
            set(&PUSH_EXCEPTION, ce);
        })
        .register()?;
    ClassBuilder::new("Push\\ConnectionException")
        .extends((push_exception, "\\Push\\PushException"))
        .registration(|ce, _| {
            set(&CONNECTION_EXCEPTION, ce);
        })
        .register()?;
    ClassBuilder::new("Push\\TimeoutException")
        .extends((push_exception, "\\Push\\PushException"))
        .registration(|ce, _| {
            set(&TIMEOUT_EXCEPTION, ce);
        })
        .register()?;
    Ok(())
}

/// An exception of `class`. A message that quotes what the caller gave
/// may hold NUL bytes, which ext-php-rs cannot throw (it would throw an
/// `Error` about that instead): they are shown as `\0`.
fn exception(msg: String, class: &'static ClassEntry) -> PhpException {
    let msg = if msg.contains('\0') {
        msg.replace('\0', "\\0")
    } else {
        msg
    };
    PhpException::new(msg, 0, class)
}

/// `ValueError` for argument `n` of `func`, in PHP's own message shape.
pub fn value_error(func: &str, n: u32, name: &str, msg: impl std::fmt::Display) -> PhpException {
    exception(
        format!("{func}(): Argument #{n} (${name}) {msg}"),
        ce::value_error(),
    )
}

/// `TypeError` for argument `n` of `func`, in PHP's own message shape.
pub fn type_error(func: &str, n: u32, name: &str, msg: impl std::fmt::Display) -> PhpException {
    exception(
        format!("{func}(): Argument #{n} (${name}) {msg}"),
        ce::type_error(),
    )
}

/// The one mapping from engine errors to PHP exceptions.
pub fn from_engine(func: &str, e: &Error) -> PhpException {
    let msg = format!("{func}(): {e}");
    let class = match e {
        Error::InvalidChannel(_)
        | Error::ReservedChannel(_)
        | Error::InvalidId(_)
        | Error::InvalidEvent(_)
        | Error::MessageTooLarge { .. }
        | Error::InvalidUpdate(_)
        | Error::UnknownSetting(_) => ce::value_error(),
        Error::NotRunning { .. }
        | Error::Socket { .. }
        | Error::SocketPermission { .. }
        | Error::TooManyWorkers { .. } => get(&CONNECTION_EXCEPTION).unwrap_or_else(push_exception),
        Error::Timeout { .. } => get(&TIMEOUT_EXCEPTION).unwrap_or_else(push_exception),
        Error::InvalidSetting { .. }
        | Error::TooManyChannels(_)
        | Error::Bind { .. }
        | Error::Runtime(_)
        | Error::AlreadyRunning(_)
        | Error::ShuttingDown
        | Error::Forked { .. }
        | Error::SocketInUse(_)
        | Error::Protocol(_)
        | Error::MercureOff
        | Error::Broker(_) => push_exception(),
    };
    exception(msg, class)
}
