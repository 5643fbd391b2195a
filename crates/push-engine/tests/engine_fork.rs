//! The engine in a forking process (php-fpm forks after module start-up):
//! a child closes the engine's listener and forgets the values bound to
//! the parent's pid, and a child that lives on does not keep the port.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, MutexGuard};

use common::engine::{health, start};
use push_engine::process::PidBound;
use push_engine::Outgoing;

/// Forking copies every descriptor of the process, including a listener
/// another test has bound but not yet registered for closing in children.
/// The fork tests therefore run one at a time, and in a test binary of
/// their own.
static FORK: Mutex<()> = Mutex::new(());

fn exclusive() -> MutexGuard<'static, ()> {
    FORK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The engine's listening socket, found among this process's descriptors.
fn listener_fd(addr: SocketAddr) -> Option<i32> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let Ok(fd) = entry.ok()?.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: plain queries on a descriptor number; a stale one fails.
        unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) != 0
                || storage.ss_family as i32 != libc::AF_INET
            {
                continue;
            }
            let sin = &*(&storage as *const _ as *const libc::sockaddr_in);
            if u16::from_be(sin.sin_port) != addr.port() {
                continue;
            }
            let mut listening: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                &mut listening as *mut _ as *mut libc::c_void,
                &mut len,
            ) == 0
                && listening != 0
            {
                return Some(fd);
            }
        }
    }
    None
}

/// Whether `fd` is an open descriptor (async-signal-safe).
fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Child exit codes: bits of what went wrong.
const LISTENER_OPEN: i32 = 1;
const PID_BOUND_VISIBLE: i32 = 2;
const PID_BOUND_TAKEN: i32 = 4;

#[test]
fn forked_child_closes_the_listener_and_forgets_pid_bound_values() {
    let _exclusive = exclusive();
    let engine = start();
    let addr = engine.local_addr();
    let fd = listener_fd(addr).expect("the engine's listening socket");
    let bound = PidBound::new(String::from("belongs to the parent"));
    let taken = PidBound::new(vec![1u8; 64]);
    assert!(bound.get().is_some());

    // SAFETY: the child only makes async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let mut code = 0;
        if is_open(fd) {
            code |= LISTENER_OPEN;
        }
        if bound.get().is_some() {
            code |= PID_BOUND_VISIBLE;
        }
        // Forgotten, not freed, in the child.
        if taken.into_inner().is_some() {
            code |= PID_BOUND_TAKEN;
        }
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(code) };
    }

    let mut status = 0;
    // SAFETY: waits for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    let code = libc::WEXITSTATUS(status);
    assert_eq!(
        code & LISTENER_OPEN,
        0,
        "the listener was open in the child"
    );
    assert_eq!(
        code & PID_BOUND_VISIBLE,
        0,
        "PidBound::get gave the parent's value in the child"
    );
    assert_eq!(
        code & PID_BOUND_TAKEN,
        0,
        "PidBound::into_inner gave the value in the child"
    );
    assert_eq!(code, 0);

    // The parent is untouched.
    assert!(is_open(fd));
    assert_eq!(
        bound.get().map(String::as_str),
        Some("belongs to the parent")
    );
    assert_eq!(taken.into_inner(), Some(vec![1u8; 64]));
    health(addr);
    let p = engine
        .hub()
        .publish("after-fork", Outgoing::new("x"))
        .unwrap();
    assert_eq!(engine.hub().last_id("after-fork"), Some(p.id));
    drop(bound);
    engine.stop();
}

#[test]
fn a_living_child_does_not_keep_the_port() {
    let _exclusive = exclusive();
    let engine = start();
    let addr = engine.local_addr();
    assert!(
        listens_on(std::process::id() as i32, addr.port()),
        "listens_on finds the engine's listener in this process"
    );
    let mut pipe = [0i32; 2];
    // SAFETY: creates two descriptors we own.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    let (read_end, write_end) = (pipe[0], pipe[1]);

    // SAFETY: the child only makes async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Wait until the parent has checked the port (or gone).
        let mut byte = 0u8;
        // SAFETY: plain descriptor calls in the child.
        unsafe {
            libc::close(write_end);
            libc::read(read_end, &mut byte as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        }
    }
    // SAFETY: closes our copy of the child's end.
    unsafe { libc::close(read_end) };

    // Stop the parent's engine while the child lives: the port must be free.
    engine.stop();
    let rebound = TcpListener::bind(addr);
    // Other processes on this machine bind ports too: if the port is taken,
    // it must at least not be the child that holds it.
    let child_holds = rebound.is_err() && listens_on(pid, addr.port());

    // SAFETY: releases the child and waits for it.
    let mut status = 0;
    unsafe {
        libc::close(write_end);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    assert!(!child_holds, "the child kept the engine's port");
    if let Err(e) = rebound {
        eprintln!(
            "port {} was taken by another process meanwhile ({e})",
            addr.port()
        );
    }
}

/// Whether process `pid` holds a socket listening on TCP `port` (its
/// descriptors' inodes against the kernel's table of listening sockets).
fn listens_on(pid: i32, port: u16) -> bool {
    let listening: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            (u16::from_str_radix(local_port, 16).ok()? == port && *f.get(3)? == "0A")
                .then(|| f.get(9).map(|i| format!("socket:[{i}]")))?
        })
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|link| listening.contains(&link.to_string_lossy().into_owned()))
}
