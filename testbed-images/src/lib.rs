//! Shared code of the test bed's image binaries (`fed-pause`, `fed-demo-web`): the few POSIX
//! signal calls they need, declared by hand against the C library that std already links, so
//! the crate stays std-only.
//!
//! A container's main process is PID 1 of its PID namespace, and the kernel drops signals that
//! PID 1 has no handler for: without the handlers below, `SIGTERM` from the runtime would be
//! ignored and every pod deletion would wait out its whole grace period before `SIGKILL`.

use std::ffi::c_int;

/// `SIGINT` (same number on every Linux architecture).
const SIGINT: c_int = 2;
/// `SIGTERM`.
const SIGTERM: c_int = 15;
/// `SIGCHLD` (17 on x86, arm and riscv Linux).
const SIGCHLD: c_int = 17;
/// `waitpid` option: return at once if no child has exited.
const WNOHANG: c_int = 1;

unsafe extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn pause() -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn _exit(status: c_int) -> !;
}

extern "C" fn exit_now(_signum: c_int) {
    // SAFETY: _exit is async-signal-safe and takes no pointers.
    unsafe { _exit(0) }
}

extern "C" fn wake_up(_signum: c_int) {}

/// Makes `SIGTERM` and `SIGINT` end the process at once with status 0.
pub fn exit_on_termination_signals() {
    // SAFETY: installs a handler that only calls the async-signal-safe _exit.
    unsafe {
        signal(SIGTERM, exit_now);
        signal(SIGINT, exit_now);
    }
}

/// Sleeps forever, reaping every child that exits (the pod sandbox's job when the pod shares
/// one PID namespace), until `SIGTERM` or `SIGINT` ends the process.
pub fn reap_children_forever() -> ! {
    exit_on_termination_signals();
    // SAFETY: the SIGCHLD handler does nothing; it only makes pause() return.
    unsafe { signal(SIGCHLD, wake_up) };
    loop {
        // SAFETY: pause blocks until a signal; waitpid with a null status pointer is allowed.
        unsafe {
            pause();
            while waitpid(-1, std::ptr::null_mut(), WNOHANG) > 0 {}
        }
    }
}
