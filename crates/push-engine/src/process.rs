//! Living inside a process that forks (php-fpm, `pcntl_fork()`) and that
//! someone else owns the signals of.
//!
//! - [`PidBound`] holds a value that belongs to the process that made it; in
//!   a forked child it is forgotten, never dropped (a tokio runtime's threads
//!   do not exist in the child, and dropping it would hang).
//! - Listening sockets are registered here, and a `pthread_atfork` child
//!   handler closes them, so a child never keeps the engine's port.
//! - [`TermSignals`] catches SIGINT/SIGTERM for the time a blocking serve
//!   loop runs, and gives the previous handlers back afterwards.

use std::mem::ManuallyDrop;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

/// The current process id.
pub fn pid() -> u32 {
    std::process::id()
}

/// A value owned by the process that created it.
#[derive(Debug)]
pub struct PidBound<T> {
    pid: u32,
    value: ManuallyDrop<T>,
}

impl<T> PidBound<T> {
    pub fn new(value: T) -> Self {
        PidBound {
            pid: pid(),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, if this is the process that created it.
    pub fn get(&self) -> Option<&T> {
        (self.pid == pid()).then_some(&*self.value)
    }

    /// Takes the value out if this is the process that created it; in any
    /// other process the value is forgotten and `None` returned.
    pub fn into_inner(mut self) -> Option<T> {
        let owned = self.pid == pid();
        // SAFETY: `self.value` is taken exactly once, here; `self` is then
        // forgotten, so its Drop does not touch the value again.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        std::mem::forget(self);
        if owned {
            Some(value)
        } else {
            std::mem::forget(value);
            None
        }
    }
}

impl<T> Drop for PidBound<T> {
    fn drop(&mut self) {
        if self.pid == pid() {
            // SAFETY: dropped once, in Drop; never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
        // In another process: leak it on purpose.
    }
}

const SLOTS: usize = 16;
static LISTENERS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static ATFORK: Once = Once::new();

/// Registers a socket (a listener, a worker's connection) to be closed in
/// forked children. Returns false if all slots are taken (the socket then
/// stays open in children).
pub fn close_in_children(fd: RawFd) -> bool {
    ATFORK.call_once(|| {
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::pthread_atfork(None, None, Some(close_listeners_in_child)) };
    });
    LISTENERS.iter().any(|slot| {
        slot.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// Stops tracking a socket (call it before closing the socket).
pub fn forget_listener(fd: RawFd) {
    for slot in &LISTENERS {
        let _ = slot.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst);
    }
}

extern "C" fn close_listeners_in_child() {
    // Runs in the child right after fork(): only async-signal-safe calls.
    for slot in &LISTENERS {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: the fd belongs to the parent's engine, which the child
            // forgets and never touches; closing the child's copy is safe.
            unsafe { libc::close(fd) };
        }
    }
}

static TERM_RECEIVED: AtomicI32 = AtomicI32::new(0);
static TERM_ACTIVE: AtomicBool = AtomicBool::new(false);

/// SIGINT and SIGTERM are caught while this guard lives; dropping it
/// restores the handlers that were there before.
pub struct TermSignals {
    old: [libc::sigaction; 2],
}

const TERM: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

extern "C" fn on_term(sig: libc::c_int) {
    TERM_RECEIVED.store(sig, Ordering::SeqCst);
}

impl TermSignals {
    /// Installs the handlers. Returns `None` if another guard is active.
    pub fn install() -> Option<TermSignals> {
        if TERM_ACTIVE.swap(true, Ordering::SeqCst) {
            return None;
        }
        TERM_RECEIVED.store(0, Ordering::SeqCst);
        // SAFETY: sigaction structs are plain C data; zeroed is a valid state.
        let mut guard = TermSignals {
            old: unsafe { std::mem::zeroed() },
        };
        for (i, sig) in TERM.iter().enumerate() {
            // SAFETY: installs an async-signal-safe handler (one atomic
            // store) and saves the old action for restoring.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_term as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                libc::sigaction(*sig, &action, &mut guard.old[i]);
            }
        }
        Some(guard)
    }

    /// The signal received since the guard was installed, if any.
    pub fn received(&self) -> Option<i32> {
        match TERM_RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }
}

impl Drop for TermSignals {
    fn drop(&mut self) {
        for (i, sig) in TERM.iter().enumerate() {
            // SAFETY: restores the action saved by `install`.
            unsafe { libc::sigaction(*sig, &self.old[i], std::ptr::null_mut()) };
        }
        TERM_ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// Open files the engine needs besides its browser connections (runtime,
/// listeners, Redis, workers' local connections, PHP's own files).
pub const SPARE_FILES: u64 = 64;

/// Raises the soft open-files limit to the hard one (as nginx's
/// `worker_rlimit_nofile` does); returns a warning naming both numbers if
/// the limit is still below `needed`.
pub fn raise_open_files(needed: u64, why: &str) -> Option<String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    let soft = lim.rlim_cur;
    (soft < needed).then(|| {
        let raised = if before < lim.rlim_cur {
            format!(" (raised from {before})")
        } else {
            String::new()
        };
        format!(
            "warning: the open-files limit is {soft}{raised}, hard limit {}, below the {needed} that {why} needs: raise it (ulimit -n, or LimitNOFILE= in the systemd unit)",
            lim.rlim_max
        )
    })
}
