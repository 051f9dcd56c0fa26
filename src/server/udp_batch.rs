//! The Linux UDP loop: worker threads that take packets from the listener's socket in batches.
//!
//! On loopback at full load, three quarters of the tokio loop's time went to the kernel: an
//! epoll wake-up, a `recvfrom` and a `sendto` per query, and the scheduler in between. Here each
//! worker is an OS thread of its own that
//!
//! 1. takes up to `BATCH` waiting packets with one `recvmmsg`,
//! 2. runs each through the listener's [`Mux`] into a reply buffer kept for its slot,
//! 3. sends every reply of the batch with one `sendmmsg`,
//!
//! and waits inside that `recvmmsg` (`MSG_WAITFORONE`: blocking for the first packet, not for
//! the rest) when the socket is empty. The workers share one socket, so whichever is free takes
//! the next packets (see [`super`] for why not a socket each). A blocked UDP receive is an
//! exclusive waiter, so the kernel wakes one worker per packet, and a wake-up costs no extra
//! call. Two earlier waits cost more (figures in bench/README.md, "Figures behind the code"):
//! `poll` took a call per wait, and a packet reaching an idle server woke every worker; an epoll
//! instance per worker with `EPOLLEXCLUSIVE` was worse than `poll`, as its entries stay on the
//! socket's wait queue, so every packet runs their callbacks, busy workers or not.
//!
//! A query whose plugin has to wait (a cache miss sent upstream) stays on the worker
//! ([`super::udp_tasks`]): *forward* sends it through the worker's own upstream sockets
//! ([`super::upstream_udp`]), and while any such query waits, the worker waits in `poll` on the
//! listener, its upstream sockets and an eventfd for wake-ups from other threads,
//! instead of blocking in `recvmmsg`. Handed to the tokio runtime instead, each cost a task, a
//! runtime thread's wake-up and a timer, and its reply went out alone; here the replies that
//! one wake-up finishes go out with one `sendmmsg`, before the new queries it brought are served
//! (those replies have waited a round trip already), and the upstream queries of a batch go
//! out with one `sendmmsg` too. The runtime's reactor never sees the listener: a registration,
//! even for writability alone, woke a runtime thread after every batch (the kernel signals
//! write space each time sent packets are freed).
//!
//! The socket is blocking with a read timeout (so a missed stop is seen within
//! `READ_TIMEOUT`); every other call on it says `MSG_DONTWAIT`. A stop sets a flag and shuts
//! the socket's read side, which wakes every blocked `recvmmsg` at once.
//!
//! This is one of the workspace's few `unsafe` modules (Cargo.toml lists them): `recvmmsg` and
//! `sendmmsg` through `libc`. nix's wrappers were tried first, but its multi-message headers
//! keep the address length the kernel wrote last as the room for the next address, and
//! iterating its `sendmmsg` results reads addresses it never initialised; the calls are short
//! enough to own, with a SAFETY note each.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use plugin_api::Proto;
use tokio::runtime::Handle;

use super::InFlight;
use super::mux::{Mux, Outcome};
use super::udp_tasks::{Inbox, LateReplies, Tasks};
use super::upstream_udp::Upstreams;

/// Packets taken per `recvmmsg`. dnsperf-like load keeps tens waiting; more buys nothing.
const BATCH: usize = 32;

/// Room for one query. Real queries are a few hundred bytes; a longer one arrives cut
/// (`MSG_TRUNC`), fails to decode and is answered FORMERR like any malformed packet.
const SLOT: usize = 4096;

/// The most batches a stopping worker still reads: 4 096 packets, more than the receive buffer
/// holds.
const DRAIN_BATCHES: usize = 128;

/// How long a worker waits in `recvmmsg` before looking at the stop flag again, should the
/// wake-up of a stop be missed.
const READ_TIMEOUT: Duration = Duration::from_millis(250);

/// How long a stopped worker still serves the queries it waits on: longer than *forward*'s
/// 5 s deadline, so that they end by their own.
const STOP_WAIT: Duration = Duration::from_secs(6);

/// A running batch loop; dropping it does not stop the thread, [`Loop::stop`] does.
pub struct Loop {
    stop: Arc<AtomicBool>,
    /// Kept so that the descriptor [`Loop::stop`] shuts is still this socket's, even if the
    /// thread has already ended.
    socket: Arc<UdpSocket>,
    thread: std::thread::JoinHandle<()>,
}

impl Loop {
    /// Starts serving `socket` (perhaps served by other loops too) on a thread of its own, and
    /// makes it blocking with `READ_TIMEOUT`. Waiting queries run on the current tokio runtime.
    pub fn start(
        socket: Arc<UdpSocket>,
        mux: Arc<ArcSwap<Mux>>,
        in_flight: InFlight,
        index: usize,
    ) -> io::Result<Self> {
        // The workers wait inside `recvmmsg`, where the kernel wakes one of them per packet.
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(READ_TIMEOUT))?;
        let stop = Arc::new(AtomicBool::new(false));
        let runtime = Handle::current();
        let inbox = Inbox::new()?;
        let (flag, served) = (stop.clone(), socket.clone());
        let thread =
            std::thread::Builder::new().name(format!("ferrodns-udp-{index}")).spawn(move || {
                // Futures of waiting queries may use the runtime's timers and sockets.
                let _entered = runtime.enter();
                Worker::new(served, mux, in_flight, inbox, flag).run();
            })?;
        Ok(Self { stop, socket, thread })
    }

    /// Whether the thread has ended, and with it its hold on the socket.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Asks the thread to finish its batch and let the socket go. The socket stops receiving,
    /// so every loop that shares it stops too; they are all stopped together.
    pub fn stop(&self) {
        if !self.stop.swap(true, Ordering::AcqRel) {
            // On an unconnected UDP socket this fails with ENOTCONN, but it still wakes every
            // worker blocked in `recvmmsg` on the socket, which is all it is for.
            let _ = socket2::SockRef::from(&*self.socket).shutdown(std::net::Shutdown::Read);
        }
    }
}

/// One thread's state: the socket, the batch buffers, and the queries waiting on upstreams.
struct Worker {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    mux: Arc<ArcSwap<Mux>>,
    in_flight: InFlight,
    stop: Arc<AtomicBool>,
    slots: Slots,
    /// Reply buffer for each slot; their capacity is kept from batch to batch.
    replies: Vec<Vec<u8>>,
    tasks: Tasks,
    inbox: Arc<Inbox>,
    late: LateReplies,
    upstreams: Rc<Upstreams>,
    /// `poll`'s descriptors and, for the upstream sockets among them, which socket each is.
    pollfds: Vec<libc::pollfd>,
    which: Vec<u32>,
    wakers: Vec<Waker>,
}

impl Worker {
    /// Made on the worker's own thread: the upstream sockets become this thread's exchanger.
    fn new(
        socket: Arc<UdpSocket>,
        mux: Arc<ArcSwap<Mux>>,
        in_flight: InFlight,
        inbox: Arc<Inbox>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let local = socket.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let worker = super::udp_tasks::register_worker();
        let upstreams = Rc::new(Upstreams::new(worker));
        plugin_api::pkg::datagram::install(upstreams.clone());
        Self {
            socket,
            local,
            mux,
            in_flight,
            stop,
            slots: Slots::new(),
            replies: (0..BATCH).map(|_| Vec::with_capacity(512)).collect(),
            tasks: Tasks::new(worker, inbox.clone()),
            inbox,
            late: LateReplies::default(),
            upstreams,
            pollfds: Vec::new(),
            which: Vec::new(),
            wakers: Vec::new(),
        }
    }

    fn run(mut self) {
        let fd = self.socket.as_raw_fd();
        while !self.stop.load(Ordering::Acquire) {
            if !self.tasks.is_empty() {
                self.wait(true);
                continue;
            }
            // Nothing waits on an upstream: block in the read itself. An error is the read
            // timeout, EINTR, or an ICMP error from an earlier send that concerns one client
            // only: the loop goes on.
            if let Ok(n) = self.slots.receive(fd, libc::MSG_WAITFORONE) {
                self.serve(n);
            }
        }
        // Packets the kernel queued before the stop are answered, not dropped with the socket:
        // on a reload that changes *multisocket*'s count, these sockets close while the new
        // ones already serve the port. The kernel still hashes new packets to a socket whose
        // read side is shut, so the drain ends when a read finds less than a full batch.
        for _ in 0..DRAIN_BATCHES {
            let Ok(n) = self.slots.receive(fd, libc::MSG_DONTWAIT) else { break };
            // After the shutdown an empty socket reads as one message without an address.
            if (0..n).all(|i| self.slots.source(i).is_none()) {
                break;
            }
            self.serve(n);
            if n < BATCH {
                break;
            }
        }
        // Queries still waiting on upstreams are answered as their replies come (the listener,
        // shut, is no longer read).
        let until = Instant::now() + STOP_WAIT;
        while !self.tasks.is_empty() && Instant::now() < until {
            self.wait(false);
        }
    }

    /// Serves the first `n` slots and sends what they produced; their log lines go to the
    /// writer together.
    fn serve(&mut self, n: usize) {
        let outgoing = plugin_api::server::log_batch(|| {
            let outgoing = self.serve_batch(n);
            self.run_turn();
            outgoing
        });
        self.send_replies(outgoing);
    }

    /// Serves the first `n` slots, marking the replies to send; returns how many. Upstream
    /// queries go out at once.
    fn serve_batch(&mut self, n: usize) -> usize {
        let mux = self.mux.load();
        // The batch arrived together: one clock reading dates every query in it, and a
        // query's duration includes its wait behind the earlier ones.
        let received = Instant::now();
        let mut outgoing = 0;
        for i in 0..n {
            let Some(src) = self.slots.source(i) else { continue };
            let packet = self.slots.packet(i);
            let out = &mut self.replies[i];
            out.clear();
            match mux.serve_packet_guarded(packet, src, self.local, Proto::Udp, received, out) {
                Outcome::Send => {
                    self.slots.mark_reply(outgoing, i, out);
                    outgoing += 1;
                }
                // Streams are framed only for TCP.
                Outcome::Drop | Outcome::SendFrames => {}
                Outcome::Wait(reply) => {
                    self.tasks.spawn(reply, src, self.in_flight.enter(), &mut self.late);
                }
            }
        }
        // The upstream queries first: their replies take longest to come.
        self.flush_upstreams();
        outgoing
    }

    /// Waits (in `poll`, up to the nearest upstream deadline) for a query from a client, a
    /// reply from an upstream or a wake-up from another thread, and serves what came.
    fn wait(&mut self, listen: bool) {
        self.pollfds.clear();
        self.which.clear();
        let poll_in = |fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        self.pollfds.push(poll_in(self.inbox.fd()));
        if listen {
            self.pollfds.push(poll_in(self.socket.as_raw_fd()));
        }
        let first_upstream = self.pollfds.len();
        self.upstreams.poll_fds(&mut self.pollfds, &mut self.which);
        let timeout = if self.tasks.any_woken() {
            0
        } else {
            let left = self.upstreams.next_deadline().map_or(READ_TIMEOUT, |at| {
                at.saturating_duration_since(Instant::now()).min(READ_TIMEOUT)
            });
            // Rounded up: a deadline is never looked at before it has passed.
            left.as_micros().div_ceil(1000) as libc::c_int
        };
        // SAFETY: `pollfds` holds `len` initialised entries, alive through the call.
        let ready = unsafe {
            libc::poll(self.pollfds.as_mut_ptr(), self.pollfds.len() as libc::nfds_t, timeout)
        };
        if ready < 0 {
            return; // EINTR: the caller loops.
        }
        plugin_api::server::log_batch(|| {
            if self.pollfds[0].revents != 0 {
                self.tasks.take_inbox();
            }
            for k in first_upstream..self.pollfds.len() {
                if self.pollfds[k].revents != 0 {
                    self.upstreams.receive(self.which[k - first_upstream], &mut self.wakers);
                }
            }
            self.upstreams.expire(Instant::now(), &mut self.wakers);
            self.wakers.drain(..).for_each(Waker::wake);
            self.run_turn();
        });
        // The queries finished by this wake-up have waited a round trip already: their replies
        // go out before the new queries are served.
        self.send_replies(0);
        if listen && self.pollfds[1].revents != 0 {
            let outgoing = plugin_api::server::log_batch(|| {
                let Ok(n) = self.slots.receive(self.socket.as_raw_fd(), libc::MSG_DONTWAIT) else {
                    return 0;
                };
                let outgoing = self.serve_batch(n);
                self.run_turn();
                outgoing
            });
            self.send_replies(outgoing);
        }
    }

    /// Polls the queries woken meanwhile until none is, sending the upstream queries they
    /// make; their replies go to the late ones.
    fn run_turn(&mut self) {
        loop {
            self.tasks.run_woken(&mut self.late);
            self.flush_upstreams();
            if !self.tasks.any_woken() {
                break;
            }
        }
    }

    /// Sends the turn's replies: the `outgoing` marked slots of a batch, then the late ones.
    /// Called after the turn's batch has ended, so that its log lines and *dnstap* messages are
    /// handed over before a client has its answer: one that then stops the server finds them
    /// delivered.
    fn send_replies(&mut self, outgoing: usize) {
        let fd = self.socket.as_raw_fd();
        let mut dropped = self.slots.send(fd, outgoing);
        let upstreams = &self.upstreams;
        dropped += self.late.send(fd, |buf| upstreams.give_buffer(buf));
        if dropped > 0 {
            self.mux.load().replies_dropped(dropped);
        }
    }

    fn flush_upstreams(&mut self) {
        self.upstreams.flush(&mut self.wakers);
        self.wakers.drain(..).for_each(Waker::wake);
    }
}

/// A boxed all-zero `T`; only used for plain C structs, for which all-zero is a valid value.
fn zeroed_box<T>() -> Box<T> {
    // SAFETY: every T this is called with (sockaddr_storage, iovec, mmsghdr arrays) is a plain C
    // struct whose all-zero bit pattern is valid (null pointers, zero lengths).
    Box::new(unsafe { zeroed() })
}

/// The buffers and headers `recvmmsg` and `sendmmsg` work on. The headers point into the
/// buffers, so they are filled right before each call rather than kept.
struct Slots {
    packets: Box<[[u8; SLOT]]>,
    addrs: Box<[libc::sockaddr_storage; BATCH]>,
    iovecs: Box<[libc::iovec; BATCH]>,
    headers: Box<[libc::mmsghdr; BATCH]>,
    /// The addresses the replies of a batch go to: copies of `addrs`, which the next receive
    /// may overwrite while a reply is still being marked.
    reply_addrs: Box<[libc::sockaddr_storage; BATCH]>,
}

impl Slots {
    fn new() -> Self {
        Self {
            packets: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
            addrs: zeroed_box(),
            iovecs: zeroed_box(),
            headers: zeroed_box(),
            reply_addrs: zeroed_box(),
        }
    }

    /// Takes up to [`BATCH`] packets; returns how many. With `MSG_WAITFORONE` it waits (up to
    /// [`READ_TIMEOUT`]) for the first, with `MSG_DONTWAIT` not at all.
    fn receive(&mut self, fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
        for i in 0..BATCH {
            self.iovecs[i] =
                libc::iovec { iov_base: self.packets[i].as_mut_ptr().cast(), iov_len: SLOT };
            self.headers[i] = message_header(
                &mut self.iovecs[i],
                (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast(),
                size_of::<libc::sockaddr_storage>() as libc::socklen_t,
            );
        }
        // The headers point at our own packet buffers and addresses, which outlive the call.
        receive_into(fd, &mut self.headers[..], flags)
    }

    /// Where slot `i`'s packet came from, if it is an IPv4 or IPv6 address.
    fn source(&self, i: usize) -> Option<SocketAddr> {
        // A receive the shutdown of a stop ended wrote no address.
        if self.headers[i].msg_hdr.msg_namelen == 0 {
            return None;
        }
        let storage = &self.addrs[i];
        match libc::c_int::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in, and sockaddr_storage
                // is large and aligned enough for it.
                let v4 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let v6 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// Slot `i`'s packet.
    fn packet(&self, i: usize) -> &[u8] {
        let len = (self.headers[i].msg_len as usize).min(SLOT);
        &self.packets[i][..len]
    }

    /// Makes header `k` of the send batch carry `reply` back to where slot `i`'s packet came
    /// from. Slots are served in order, so `k <= i`: the headers overwritten belong to packets
    /// already served.
    fn mark_reply(&mut self, k: usize, i: usize, reply: &[u8]) {
        let name_len = self.headers[i].msg_hdr.msg_namelen;
        self.reply_addrs[k] = self.addrs[i];
        self.iovecs[k] = libc::iovec { iov_base: reply.as_ptr() as *mut _, iov_len: reply.len() };
        // The reply and the address stay where they are until `send`.
        self.headers[k] = message_header(
            &mut self.iovecs[k],
            (&mut self.reply_addrs[k] as *mut libc::sockaddr_storage).cast(),
            name_len,
        );
    }

    /// Sends the first `count` marked replies ([`send_all`]); returns how many did not reach
    /// the wire.
    fn send(&mut self, fd: RawFd, count: usize) -> usize {
        // `mark_reply` filled headers[..count], pointing at reply buffers and addresses that
        // are not touched until this returns.
        send_all(fd, &mut self.headers[..count])
    }
}

/// Sends the messages `headers` describe with `sendmmsg`, none of it waiting but for room in
/// the send buffer. A message the kernel refuses (an unreachable address) is skipped; a full
/// send buffer is waited out briefly (three times up to 10 ms), then the rest are dropped, as
/// a full receive buffer would have dropped them on the way in (the client's retry covers).
/// Returns how many did not reach the wire. Each header must point at memory that lives
/// through the call.
pub(super) fn send_all(fd: RawFd, headers: &mut [libc::mmsghdr]) -> usize {
    let count = headers.len();
    let (mut sent, mut refused, mut waits) = (0, 0, 0);
    while sent < count {
        // SAFETY: headers[sent..] are initialised headers whose buffers and addresses live
        // through the call (the caller's promise).
        let n = unsafe {
            libc::sendmmsg(
                fd,
                headers.as_mut_ptr().add(sent),
                (count - sent) as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            sent += n as usize;
            continue;
        }
        match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock if waits < 3 => {
                waits += 1;
                wait_writable(fd);
            }
            io::ErrorKind::WouldBlock => return refused + count - sent,
            _ => {
                sent += 1;
                refused += 1;
            }
        }
    }
    refused
}

/// A `sendmmsg`/`recvmmsg` header for the one buffer `iov` describes and the address at
/// `name` (`name_len` octets; null and 0 on a connected socket). It holds raw pointers: what
/// they point at must stay put until the call that uses the header returns.
pub(super) fn message_header(
    iov: *mut libc::iovec,
    name: *mut libc::c_void,
    name_len: libc::socklen_t,
) -> libc::mmsghdr {
    // SAFETY: msghdr is a plain C struct; all-zero (null pointers, zero lengths) is valid.
    let mut hdr: libc::msghdr = unsafe { zeroed() };
    hdr.msg_name = name;
    hdr.msg_namelen = name_len;
    hdr.msg_iov = iov;
    hdr.msg_iovlen = 1;
    libc::mmsghdr { msg_hdr: hdr, msg_len: 0 }
}

/// One `recvmmsg` into the buffers `headers` describe; how many messages came. Each header must
/// point at memory that lives through the call (as [`message_header`] says).
pub(super) fn receive_into(
    fd: RawFd,
    headers: &mut [libc::mmsghdr],
    flags: libc::c_int,
) -> io::Result<usize> {
    // SAFETY: `headers` are initialised and point at live buffers (the caller's promise); the
    // kernel writes at most the lengths they give.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            headers.as_mut_ptr(),
            headers.len() as libc::c_uint,
            flags,
            std::ptr::null_mut(),
        )
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// Waits up to 10 ms for room in a socket's send buffer.
pub(super) fn wait_writable(fd: RawFd) {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, count 1.
    unsafe { libc::poll(&mut pfd, 1, 10) };
}
