//! Stopping a run when asked: SIGTERM (systemd, smd-loop, `kill`), SIGINT
//! (Ctrl-C) and SIGHUP (a closed terminal).
//!
//! The handlers only record the request; the work looks at it where it
//! waits. A sync ends its connection to the other side (see `sync`), so
//! that the run ends as after a dropped connection, which is safe at any
//! point: the mail received whole is put in place, the message on its way
//! is left in a `tmp/` folder, the db-files change only after a COMMIT,
//! then the post hooks run and the lock is released. Nothing is caught
//! until a program calls [`install`], so the applet, which runs syncs in
//! its own process, is not affected.
//!
//! A second Ctrl-C is not caught: it ends the process at once, for a
//! person who cannot wait. Other repeats are ignored, since one stop may
//! arrive several ways (systemd signals every process of a service, and
//! smd-loop passes the signal on to the smd-pull it runs).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use crate::protocol::Failure;
use crate::tags::Tags;

/// The first signal that asked to stop, 0 for none.
static REQUESTED: AtomicI32 = AtomicI32::new(0);

/// Whether a SIGINT was already received.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A signal that asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal(i32);

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::SIGTERM => "SIGTERM",
            libc::SIGINT => "SIGINT",
            libc::SIGHUP => "SIGHUP",
            _ => "a signal",
        }
    }
}

/// Catches SIGTERM, SIGINT and SIGHUP from now on.
pub fn install() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        on_signal(signal, record_stop)?;
    }
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether [`install`] was called: only then can a stop be requested.
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::SeqCst)
}

/// The signal that asked to stop, if one did.
pub fn requested() -> Option<StopSignal> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(StopSignal(signal)),
    }
}

extern "C" fn record_stop(signal: libc::c_int) {
    let _ = REQUESTED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if signal == libc::SIGINT && INTERRUPTED.swap(true, Ordering::SeqCst) {
        end_at_once(signal);
    }
}

/// Does what the signal does by default: ends the process.
#[allow(unsafe_code)]
fn end_at_once(signal: libc::c_int) {
    // SAFETY: signal() and raise() are async-signal-safe (POSIX.1), so
    // they may run in a handler; they only change this signal's handling
    // and deliver it to this thread.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Installs `handler` for `signal`. The flags keep interrupted system
/// calls going (SA_RESTART): the waits that matter poll instead.
#[allow(unsafe_code)]
pub fn on_signal(
    signal: libc::c_int,
    handler: extern "C" fn(libc::c_int),
) -> io::Result<()> {
    // SAFETY: the handlers given here only touch atomics (or, for a
    // repeated SIGINT, call async-signal-safe functions); the sigaction
    // struct is plain data, zeroed then filled in, and outlives the call.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends SIGTERM to a child process of ours.
///
/// The caller must hold the child's `std::process::Child` and must not
/// have waited for it yet: until then its pid cannot be given to another
/// process.
#[allow(unsafe_code)]
pub fn terminate(child: &std::process::Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill() only sends a signal; the pid is our unreaped child's
    // (see above), so it names no other process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// The failure of a run ended by a stop request.
pub fn stopped(signal: StopSignal) -> Failure {
    Failure::new(
        format!(
            "stopped by {}, as asked, before the synchronization ended: the mail \
             received whole is in place, and the next run goes on from there",
            signal.name()
        ),
        Tags::retry("main", "interrupted"),
    )
}

/// For smd-server and smd-client: catches the stop signals, so that a
/// stop puts the mail already received in place (the protocol loops look
/// at [`requested`]), and ends the process `grace` after a stop request
/// should it still be waiting on a peer that says nothing. Ending it then
/// is as safe as a kill.
pub fn install_with_deadline(grace: Duration) -> io::Result<()> {
    install()?;
    std::thread::spawn(move || {
        while requested().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(grace);
        std::process::exit(1);
    });
    Ok(())
}

/// Fails with `ConnectionAborted` once a stop was asked for.
pub fn check() -> io::Result<()> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("stopped by {}", signal.name()),
        )),
    }
}

/// Waits until `fd` is ready for `events` (`libc::POLLIN`, `POLLOUT`),
/// checking for a stop request every `tick` milliseconds; fails with
/// `ConnectionAborted` once one came. Without [`install`], returns at once
/// and lets the read or write block as usual.
#[allow(unsafe_code)]
pub fn wait_ready(
    fd: std::os::fd::RawFd,
    events: libc::c_short,
    tick: i32,
) -> io::Result<()> {
    if !is_installed() {
        return Ok(());
    }
    loop {
        check()?;
        let mut poll_fd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, borrowed for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll_fd, 1, tick) };
        if ready > 0 {
            // Ready, or the other end is gone: the read or write says which.
            return Ok(());
        }
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}
