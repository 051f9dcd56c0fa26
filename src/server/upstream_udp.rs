//! A UDP worker's own sockets to upstream servers: the [`Exchanger`] that *forward* sends its
//! UDP queries through when it runs on a worker (see `plugin_api::pkg::datagram`).
//!
//! Per upstream address the worker keeps up to [`SOCKETS`] connected sockets, each on a port the
//! kernel picked at random, each replaced once it is older than the line's `expire`. The
//! queries of one batch to one upstream go out on one of them, chosen at random, with one
//! `sendmmsg`; an off-path forger has to guess the port among those of every worker, and the id,
//! which is drawn anew per exchange (a CSPRNG) and unique among that socket's exchanges in
//! flight. Replies are read with `recvmmsg` when `poll` says a socket is readable; one with an
//! unknown id, or whose question is not the query's, is passed over. The kernel drops anything
//! from another address or port, the sockets being connected. An ICMP error (nothing listens
//! there) fails every exchange waiting on that socket, as it would have failed each of them
//! on a socket of its own.
//!
//! Nothing here allocates per exchange once the worker has warmed up, except the reply's own
//! buffer: slots, ids, deadlines and send headers keep their room.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::mem::zeroed;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use plugin_api::pkg::datagram::{Exchanger, Failure, Outcome, Query, Ticket, replies_to};

use super::udp_batch::{message_header, receive_into};

/// Sockets per upstream and worker.
pub const SOCKETS: usize = 8;

/// Datagrams read per `recvmmsg`.
const BATCH: usize = 32;

/// Room for one reply: the largest UDP payload.
const ROOM: usize = 65_536;

/// Room left after a reply for the client's OPT record (and an EDNS option or two).
const OPT_ROOM: usize = 64;

/// Reply buffers kept for reuse.
const BUFFERS: usize = 64;

/// An upstream nobody asked for this long loses its sockets (after a reload that dropped it).
const UNUSED: Duration = Duration::from_secs(60);

/// The worker's upstream sockets and the exchanges in flight on them.
pub struct Upstreams {
    worker: u32,
    state: RefCell<State>,
}

struct State {
    exchanges: Vec<Exchange>,
    free: Vec<u32>,
    sockets: Vec<Option<Sock>>,
    targets: Vec<Target>,
    /// (deadline, slot, generation); entries of finished exchanges are passed over.
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    live: usize,
    received: Box<Received>,
    sends: Sends,
    /// Buffers of replies already sent, for the next replies to be read into.
    buffers: Vec<Vec<u8>>,
    last_sweep: Instant,
}

/// One exchange's slot. Its buffers keep their room from one exchange to the next.
struct Exchange {
    generation: u32,
    live: bool,
    query: Vec<u8>,
    limit: usize,
    socket: u32,
    id: u16,
    queued: bool,
    outcome: Option<Outcome>,
    waker: Option<Waker>,
}

/// One upstream address and its current sockets.
struct Target {
    addr: SocketAddr,
    sockets: Vec<u32>,
    /// The socket this batch's queries go out on, until the next flush.
    current: Option<u32>,
    last_used: Instant,
}

/// One connected socket.
struct Sock {
    socket: UdpSocket,
    local: Option<SocketAddr>,
    /// Exchange slot by id, for the exchanges waiting on this socket. The ids come from a
    /// CSPRNG, not from anyone who could pick colliding ones: a fast hash will do.
    ids: HashMap<u16, u32, foldhash::fast::FixedState>,
    /// Slots whose queries wait for the flush.
    outbox: Vec<u32>,
    opened: Instant,
    /// Replaced: closed once nothing waits on it.
    retired: bool,
}

/// `recvmmsg`'s buffers.
struct Received {
    buffers: Vec<u8>,
    iovecs: [libc::iovec; BATCH],
    headers: [libc::mmsghdr; BATCH],
}

/// `sendmmsg`'s headers, refilled for each flush.
struct Sends {
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Upstreams {
    /// The sockets of worker `worker` (none open until a query needs them).
    pub fn new(worker: u32) -> Self {
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers, zero
        // lengths) is a valid value for both, and they are filled before each call.
        let received = Box::new(Received {
            // Zeroed, so the pages a reply never reaches are never touched.
            buffers: vec![0u8; ROOM * BATCH],
            iovecs: unsafe { zeroed() },
            headers: unsafe { zeroed() },
        });
        let state = State {
            exchanges: Vec::new(),
            free: Vec::new(),
            sockets: Vec::new(),
            targets: Vec::new(),
            deadlines: BinaryHeap::new(),
            live: 0,
            received,
            sends: Sends { iovecs: Vec::new(), headers: Vec::new() },
            buffers: Vec::new(),
            last_sweep: Instant::now(),
        };
        Self { worker, state: RefCell::new(state) }
    }

    /// The nearest deadline of an exchange in flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut state = self.state.borrow_mut();
        while let Some(Reverse((at, slot, generation))) = state.deadlines.peek().copied() {
            if state.is_current(slot, generation) {
                return Some(at);
            }
            state.deadlines.pop();
        }
        None
    }

    /// Adds a `pollfd` for each open socket to `fds`, and its index to `which`.
    pub fn poll_fds(&self, fds: &mut Vec<libc::pollfd>, which: &mut Vec<u32>) {
        let state = self.state.borrow();
        for (i, sock) in state.sockets.iter().enumerate() {
            if let Some(sock) = sock {
                fds.push(libc::pollfd {
                    fd: sock.socket.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(i as u32);
            }
        }
    }

    /// Reads what socket `socket` holds and settles the exchanges it answers; their wakers go
    /// to `wake`.
    pub fn receive(&self, socket: u32, wake: &mut Vec<Waker>) {
        let mut state = self.state.borrow_mut();
        state.receive(socket, wake);
    }

    /// Fails the exchanges whose deadline passed.
    pub fn expire(&self, now: Instant, wake: &mut Vec<Waker>) {
        let mut state = self.state.borrow_mut();
        while let Some(Reverse((at, slot, generation))) = state.deadlines.peek().copied() {
            if at > now {
                break;
            }
            state.deadlines.pop();
            if state.is_current(slot, generation)
                && state.exchanges[slot as usize].outcome.is_none()
            {
                let error = io::Error::from(io::ErrorKind::TimedOut);
                let failure = state.failure(slot, "read", error);
                state.settle(slot, Err(failure), wake);
            }
        }
        if now.duration_since(state.last_sweep) > Duration::from_secs(1) {
            state.last_sweep = now;
            state.sweep(now);
        }
    }

    /// Takes back the buffer of a reply that went out, for a later upstream reply: with it a
    /// miss allocates no reply buffer.
    pub fn give_buffer(&self, buf: Vec<u8>) {
        let mut state = self.state.borrow_mut();
        if state.buffers.len() < BUFFERS && buf.capacity() <= 4096 {
            state.buffers.push(buf);
        }
    }

    /// Sends every queued query, one `sendmmsg` per socket.
    pub fn flush(&self, wake: &mut Vec<Waker>) {
        let mut state = self.state.borrow_mut();
        state.flush(wake);
    }
}

impl Exchanger for Upstreams {
    fn worker(&self) -> u32 {
        self.worker
    }

    fn start(&self, query: &Query<'_>) -> Result<(Ticket, bool), Failure> {
        let mut state = self.state.borrow_mut();
        let (socket, reused) = state.socket_for(query.to, query.expire)?;
        let slot = state.allocate();
        let sock = state.sockets[socket as usize].as_mut().expect("a current socket is open");
        let mut id = plugin_api::pkg::random::unpredictable_id();
        while sock.ids.contains_key(&id) {
            id = plugin_api::pkg::random::unpredictable_id();
        }
        sock.ids.insert(id, slot);
        sock.outbox.push(slot);
        let exchange = &mut state.exchanges[slot as usize];
        exchange.query.clear();
        exchange.query.extend_from_slice(query.bytes);
        if exchange.query.len() >= 2 {
            exchange.query[..2].copy_from_slice(&id.to_be_bytes());
        }
        exchange.limit = query.limit;
        exchange.socket = socket;
        exchange.id = id;
        exchange.queued = true;
        let generation = exchange.generation;
        state.deadlines.push(Reverse((query.deadline, slot, generation)));
        Ok((Ticket { worker: self.worker, index: slot, generation }, reused))
    }

    fn poll(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.state.borrow_mut();
        if !state.is_current(ticket.index, ticket.generation) {
            let error = io::Error::other("exchange already finished");
            return Poll::Ready(Err(Failure { op: "read", local: None, error }));
        }
        let exchange = &mut state.exchanges[ticket.index as usize];
        match exchange.outcome.take() {
            Some(outcome) => {
                state.release(ticket.index);
                Poll::Ready(outcome)
            }
            None => {
                match &exchange.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => exchange.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    fn cancel(&self, ticket: Ticket) {
        let mut state = self.state.borrow_mut();
        if state.is_current(ticket.index, ticket.generation) {
            state.forget(ticket.index);
            state.release(ticket.index);
        }
    }
}

impl State {
    fn is_current(&self, slot: u32, generation: u32) -> bool {
        self.exchanges.get(slot as usize).is_some_and(|e| e.live && e.generation == generation)
    }

    fn allocate(&mut self) -> u32 {
        self.live += 1;
        if let Some(slot) = self.free.pop() {
            self.exchanges[slot as usize].live = true;
            return slot;
        }
        self.exchanges.push(Exchange {
            generation: 0,
            live: true,
            query: Vec::with_capacity(512),
            limit: 512,
            socket: 0,
            id: 0,
            queued: false,
            outcome: None,
            waker: None,
        });
        (self.exchanges.len() - 1) as u32
    }

    /// Frees a slot whose outcome was taken or whose future was dropped.
    fn release(&mut self, slot: u32) {
        let exchange = &mut self.exchanges[slot as usize];
        exchange.live = false;
        exchange.generation = exchange.generation.wrapping_add(1);
        exchange.outcome = None;
        exchange.waker = None;
        self.free.push(slot);
        self.live -= 1;
        // Most of the deadlines waiting in the heap may be of finished exchanges; when they
        // far outnumber the live ones, they go at once rather than one by one as they pass.
        if self.deadlines.len() > 1024 && self.deadlines.len() > 4 * self.live {
            let exchanges = &self.exchanges;
            self.deadlines.retain(|Reverse((_, s, g))| {
                exchanges.get(*s as usize).is_some_and(|e| e.live && e.generation == *g)
            });
        }
    }

    /// Takes an unfinished exchange off its socket (its id and its place in the outbox).
    fn forget(&mut self, slot: u32) {
        let exchange = &mut self.exchanges[slot as usize];
        if exchange.outcome.is_some() {
            return;
        }
        let (socket, id, queued) = (exchange.socket, exchange.id, exchange.queued);
        exchange.queued = false;
        if let Some(sock) = self.sockets[socket as usize].as_mut() {
            if sock.ids.get(&id) == Some(&slot) {
                sock.ids.remove(&id);
            }
            if queued {
                sock.outbox.retain(|&s| s != slot);
            }
        }
        self.close_if_done(socket);
    }

    /// Ends an exchange with `outcome` and queues its waker.
    fn settle(&mut self, slot: u32, outcome: Outcome, wake: &mut Vec<Waker>) {
        self.forget(slot);
        let exchange = &mut self.exchanges[slot as usize];
        exchange.outcome = Some(outcome);
        if let Some(w) = exchange.waker.take() {
            wake.push(w);
        }
    }

    fn failure(&self, slot: u32, op: &'static str, error: io::Error) -> Failure {
        let socket = self.exchanges[slot as usize].socket;
        let local =
            self.sockets.get(socket as usize).and_then(|s| s.as_ref()).and_then(|s| s.local);
        Failure { op, local, error }
    }

    /// The socket this batch's queries to `to` go out on, opening or replacing one as needed;
    /// and whether it was already open.
    fn socket_for(&mut self, to: SocketAddr, expire: Duration) -> Result<(u32, bool), Failure> {
        let now = Instant::now();
        let target = match self.targets.iter().position(|t| t.addr == to) {
            Some(t) => t,
            None => {
                self.targets.push(Target {
                    addr: to,
                    sockets: Vec::new(),
                    current: None,
                    last_used: now,
                });
                self.targets.len() - 1
            }
        };
        self.targets[target].last_used = now;
        if let Some(current) = self.targets[target].current {
            return Ok((current, true));
        }
        // A place among the upstream's SOCKETS at random: an empty one is filled, one older
        // than `expire` replaced (kept open, retired, until its exchanges end).
        let k = plugin_api::pkg::random::below(SOCKETS);
        let sockets = &self.targets[target].sockets;
        let old = sockets.get(k).copied();
        let usable = old.filter(|&s| {
            self.sockets[s as usize].as_ref().is_some_and(|s| now.duration_since(s.opened) < expire)
        });
        let (chosen, reused) = match usable {
            Some(socket) => (socket, true),
            None => {
                let fresh = self.open(to)?;
                let sockets = &mut self.targets[target].sockets;
                match old {
                    Some(old) => {
                        sockets[k] = fresh;
                        if let Some(sock) = self.sockets[old as usize].as_mut() {
                            sock.retired = true;
                        }
                        self.close_if_done(old);
                    }
                    // Places are filled in order; `k` past the end takes the next.
                    None => sockets.push(fresh),
                }
                (fresh, false)
            }
        };
        self.targets[target].current = Some(chosen);
        Ok((chosen, reused))
    }

    fn open(&mut self, to: SocketAddr) -> Result<u32, Failure> {
        let dial = |error| Failure { op: "dial", local: None, error };
        let bind: SocketAddr =
            if to.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(bind).map_err(dial)?;
        socket.connect(to).map_err(dial)?;
        socket.set_nonblocking(true).map_err(dial)?;
        let sock = Sock {
            local: socket.local_addr().ok(),
            socket,
            ids: HashMap::with_capacity_and_hasher(64, foldhash::fast::FixedState::default()),
            outbox: Vec::with_capacity(BATCH),
            opened: Instant::now(),
            retired: false,
        };
        match self.sockets.iter().position(Option::is_none) {
            Some(i) => {
                self.sockets[i] = Some(sock);
                Ok(i as u32)
            }
            None => {
                self.sockets.push(Some(sock));
                Ok((self.sockets.len() - 1) as u32)
            }
        }
    }

    /// Closes a retired socket once nothing waits on it.
    fn close_if_done(&mut self, socket: u32) {
        let slot = &mut self.sockets[socket as usize];
        if slot.as_ref().is_some_and(|s| s.retired && s.ids.is_empty() && s.outbox.is_empty()) {
            *slot = None;
        }
    }

    /// Lets go of the sockets of upstreams unused for [`UNUSED`].
    fn sweep(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.targets.len() {
            if now.duration_since(self.targets[i].last_used) < UNUSED {
                i += 1;
                continue;
            }
            let target = self.targets.swap_remove(i);
            for socket in target.sockets {
                if let Some(sock) = self.sockets[socket as usize].as_mut() {
                    sock.retired = true;
                }
                self.close_if_done(socket);
            }
        }
    }

    fn flush(&mut self, wake: &mut Vec<Waker>) {
        for target in &mut self.targets {
            target.current = None;
        }
        for socket in 0..self.sockets.len() as u32 {
            let pending =
                self.sockets[socket as usize].as_ref().is_some_and(|s| !s.outbox.is_empty());
            if pending {
                self.flush_socket(socket, wake);
            }
        }
    }

    fn flush_socket(&mut self, socket: u32, wake: &mut Vec<Waker>) {
        let Some(sock) = self.sockets[socket as usize].as_mut() else { return };
        let fd = sock.socket.as_raw_fd();
        let mut outbox = std::mem::take(&mut sock.outbox);
        let mut sent = 0;
        let mut waits = 0;
        while sent < outbox.len() {
            let result = send_batch(fd, &outbox[sent..], &self.exchanges, &mut self.sends);
            match result {
                Ok(n) => {
                    for &slot in &outbox[sent..sent + n] {
                        self.exchanges[slot as usize].queued = false;
                    }
                    sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && waits < 3 => {
                    waits += 1;
                    super::udp_batch::wait_writable(fd);
                }
                Err(e) => {
                    // The first unsent query fails with the error (an earlier ICMP error, a
                    // full buffer that stayed full); the rest are tried again.
                    let slot = outbox[sent];
                    self.exchanges[slot as usize].queued = false;
                    let failure = self.failure(slot, "write", e);
                    self.settle(slot, Err(failure), wake);
                    sent += 1;
                }
            }
        }
        outbox.clear();
        if let Some(sock) = self.sockets[socket as usize].as_mut() {
            // Given back with its room; nothing was queued meanwhile (this thread is here).
            sock.outbox = outbox;
        }
        self.close_if_done(socket);
    }

    fn receive(&mut self, socket: u32, wake: &mut Vec<Waker>) {
        loop {
            let Some(sock) = self.sockets[socket as usize].as_ref() else { return };
            let fd = sock.socket.as_raw_fd();
            let n = match self.received.read(fd) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // A pending ICMP error (connection refused): everything waiting on this
                    // socket was sent to the same place.
                    let waiting: Vec<u32> = sock.ids.values().copied().collect();
                    for slot in waiting {
                        let failure = self.failure(slot, "read", io::Error::from(e.kind()));
                        self.settle(slot, Err(failure), wake);
                    }
                    return;
                }
            };
            for i in 0..n {
                let (len, truncated) = self.received.length(i);
                let reply = &self.received.buffers[i * ROOM..i * ROOM + len.min(ROOM)];
                if reply.len() < 2 {
                    continue;
                }
                let id = u16::from_be_bytes([reply[0], reply[1]]);
                let Some(sock) = self.sockets[socket as usize].as_ref() else { return };
                let Some(&slot) = sock.ids.get(&id) else { continue };
                let exchange = &self.exchanges[slot as usize];
                let limit = exchange.limit;
                if !replies_to(&exchange.query, &reply[..reply.len().min(limit)]) {
                    continue;
                }
                let outcome = if len > limit || truncated {
                    let error = io::Error::other(format!("reply larger than {limit} octets"));
                    Err(self.failure(slot, "read", error))
                } else {
                    // A buffer of a reply sent before (see `give_buffer`), with room for the
                    // OPT record the client's copy gets.
                    let mut bytes = self.buffers.pop().unwrap_or_default();
                    bytes.clear();
                    bytes.reserve((reply.len() + OPT_ROOM).max(512));
                    bytes.extend_from_slice(reply);
                    Ok(bytes)
                };
                self.settle(slot, outcome, wake);
            }
            if n < BATCH {
                return;
            }
        }
    }
}

impl Received {
    /// One `recvmmsg` without waiting.
    fn read(&mut self, fd: RawFd) -> io::Result<usize> {
        for (i, room) in self.buffers.chunks_exact_mut(ROOM).enumerate() {
            self.iovecs[i] = libc::iovec { iov_base: room.as_mut_ptr().cast(), iov_len: ROOM };
            // The socket is connected: no address is asked for.
            self.headers[i] = message_header(&mut self.iovecs[i], std::ptr::null_mut(), 0);
        }
        // The headers point into our own buffers, which outlive the call.
        receive_into(fd, &mut self.headers[..], libc::MSG_DONTWAIT)
    }

    /// Datagram `i`'s length, and whether it was cut.
    fn length(&self, i: usize) -> (usize, bool) {
        let h = &self.headers[i];
        (h.msg_len as usize, h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0)
    }
}

/// One `sendmmsg` of the queries of `slots` on a connected socket; how many went.
fn send_batch(
    fd: RawFd,
    slots: &[u32],
    exchanges: &[Exchange],
    sends: &mut Sends,
) -> io::Result<usize> {
    let count = slots.len().min(BATCH);
    sends.iovecs.clear();
    sends.headers.clear();
    for &slot in &slots[..count] {
        let query = &exchanges[slot as usize].query;
        sends.iovecs.push(libc::iovec { iov_base: query.as_ptr() as *mut _, iov_len: query.len() });
    }
    // The iovecs are not moved until the call returns (the vector is not touched meanwhile).
    for i in 0..count {
        sends.headers.push(message_header(&mut sends.iovecs[i], std::ptr::null_mut(), 0));
    }
    // SAFETY: `count` headers, each pointing at a query buffer that lives through the call.
    let n = unsafe {
        libc::sendmmsg(fd, sends.headers.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT)
    };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}
