//! A network namespace for the calling thread, as a node looks to a node-local DNS cache: its
//! own loopback, and a dummy interface holding the addresses the test names. Threads and
//! processes the thread starts afterwards (a Tokio runtime's workers, the real binary) inherit
//! it. Needs root, as CI and this repository's machine have.
//!
//! Unsafe code, the workspace's fourth exception: entering the namespace is one `unshare` call,
//! which the standard library does not offer.
#![allow(unsafe_code)]

use std::process::Command;

/// Moves the calling thread into a new network namespace and brings its loopback up.
pub fn enter() {
    // SAFETY: unshare with CLONE_NEWNET moves only this thread to a new network namespace.
    let entered = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(entered, 0, "unshare(CLONE_NEWNET) needs root: {}", std::io::Error::last_os_error());
    ip(&["link", "set", "lo", "up"]);
}

/// Adds interface `name` holding `addrs` (each a /32) and brings it up. A dummy interface, as
/// NodeLocal DNSCache makes; where the kernel has no dummy driver (this repository's machine
/// runs one without), a bridge without ports stands in: an interface that holds addresses and
/// carries nothing, which is all the tests need of it.
pub fn add_interface(name: &str, addrs: &[&str]) {
    let dummy = Command::new("ip").args(["link", "add", name, "type", "dummy"]).output();
    if !dummy.is_ok_and(|o| o.status.success()) {
        ip(&["link", "add", name, "type", "bridge"]);
    }
    // Only the addresses the test names: no IPv6 link-local address appears when it comes up
    // (a dummy interface would get one; what the server sees as its own must not vary).
    ip(&["link", "set", "dev", name, "addrgenmode", "none"]);
    for addr in addrs {
        add_address(name, addr);
    }
    ip(&["link", "set", name, "up"]);
}

/// Adds `addr`/32 to interface `name`.
pub fn add_address(name: &str, addr: &str) {
    ip(&["addr", "add", &format!("{addr}/32"), "dev", name]);
}

/// Runs `ip` with `args`, which must succeed.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip (iproute2)");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `body` on a thread of its own in a new network namespace that has interface `name`
/// with `addrs`, inside a Tokio runtime started there, and waits for it.
pub fn on_node<F>(
    name: &'static str,
    addrs: &'static [&'static str],
    body: impl FnOnce() -> F + Send + 'static,
) where
    F: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        enter();
        add_interface(name, addrs);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        runtime.block_on(body());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}
