//! The queries a UDP worker waits on (cache misses sent upstream), run by the worker itself.
//!
//! Handed to the tokio runtime, each such query cost a task, the wake-up of a runtime thread,
//! and a reply sent alone. Here the worker keeps them in [`Tasks`], polls one as soon as it is
//! made (which is when *forward* queues its upstream query), and again when woken; its reply
//! joins the others of the loop's turn in one `sendmmsg` ([`LateReplies`]).
//!
//! Wakers: a query woken on its own worker (its upstream reply read there) goes on a list of
//! the thread's; one woken from another thread (a shared exchange finished on another worker, a
//! runtime timer, a TCP upstream) goes on the worker's [`Inbox`], whose eventfd the worker's
//! `poll` watches. Each slot's waker is made once and kept, so a query makes none.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::InFlightGuard;
use super::mux::WaitReply;
use super::udp_batch::message_header;

thread_local! {
    /// The worker this thread runs (0: none).
    static WORKER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// Slots woken on this thread, for its worker to poll.
    static WOKEN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Numbers workers from 1, so that a waker knows whether it runs on its own worker's thread.
static NEXT_WORKER: AtomicU32 = AtomicU32::new(1);

/// A new worker number, made this thread's.
pub fn register_worker() -> u32 {
    let id = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
    WORKER.set(id);
    id
}

/// Slots woken from other threads, and the eventfd that tells the worker.
pub struct Inbox {
    woken: Mutex<Vec<u32>>,
    event: OwnedFd,
}

impl Inbox {
    /// A new inbox.
    pub fn new() -> io::Result<Arc<Self>> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a descriptor we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let event = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Arc::new(Self { woken: Mutex::new(Vec::new()), event }))
    }

    /// The descriptor that becomes readable when something was woken.
    pub fn fd(&self) -> RawFd {
        self.event.as_raw_fd()
    }

    fn push(&self, slot: u32) {
        self.woken.lock().unwrap_or_else(|e| e.into_inner()).push(slot);
        let one: u64 = 1;
        // SAFETY: writes eight octets from a live u64 to our eventfd. A full counter (never, at
        // 2^64 - 2) would only fail the write, and the worker is signalled already.
        unsafe { libc::write(self.event.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Moves what was woken elsewhere onto `into`, and resets the eventfd.
    pub fn drain(&self, into: &mut Vec<u32>) {
        let mut count: u64 = 0;
        // SAFETY: reads eight octets into a live u64 from our non-blocking eventfd.
        unsafe { libc::read(self.event.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        into.append(&mut self.woken.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The waker of one slot.
struct SlotWaker {
    worker: u32,
    slot: u32,
    inbox: Arc<Inbox>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if WORKER.get() == self.worker {
            WOKEN.with(|w| w.borrow_mut().push(self.slot));
        } else {
            self.inbox.push(self.slot);
        }
    }
}

struct Task {
    future: Option<WaitReply>,
    client: SocketAddr,
    guard: Option<InFlightGuard>,
    waker: Waker,
}

/// The queries a worker waits on. A woken slot that is empty by then (its query finished, or
/// the slot now holds another) is polled for nothing, which futures allow.
pub struct Tasks {
    worker: u32,
    inbox: Arc<Inbox>,
    tasks: Vec<Task>,
    free: Vec<u32>,
    live: usize,
    /// The woken list being worked through, kept for its room.
    turn: Vec<u32>,
}

impl Tasks {
    /// The tasks of worker `worker` (this thread's, see [`register_worker`]).
    pub fn new(worker: u32, inbox: Arc<Inbox>) -> Self {
        Self { worker, inbox, tasks: Vec::new(), free: Vec::new(), live: 0, turn: Vec::new() }
    }

    /// Whether no query is waiting.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Whether a query was woken on this thread and waits to be polled.
    pub fn any_woken(&self) -> bool {
        WOKEN.with(|w| !w.borrow().is_empty())
    }

    /// Takes a waiting query and polls it once; a reply it has already goes to `late`.
    pub fn spawn(
        &mut self,
        future: WaitReply,
        client: SocketAddr,
        guard: InFlightGuard,
        late: &mut LateReplies,
    ) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = self.tasks.len() as u32;
                let waker = Waker::from(Arc::new(SlotWaker {
                    worker: self.worker,
                    slot,
                    inbox: self.inbox.clone(),
                }));
                self.tasks.push(Task { future: None, client, guard: None, waker });
                slot
            }
        };
        let task = &mut self.tasks[slot as usize];
        task.future = Some(future);
        task.client = client;
        task.guard = Some(guard);
        self.live += 1;
        self.poll(slot, late);
    }

    /// Takes what other threads woke, for the next [`Tasks::run_woken`], and resets the
    /// eventfd: called when `poll` finds it readable, even if a turn already took the slots.
    pub fn take_inbox(&mut self) {
        self.inbox.drain(&mut self.turn);
    }

    /// Polls every query woken since the last turn (and any woken meanwhile), until none is.
    pub fn run_woken(&mut self, late: &mut LateReplies) {
        let mut turn = std::mem::take(&mut self.turn);
        loop {
            self.inbox_to(&mut turn);
            WOKEN.with(|w| turn.append(&mut w.borrow_mut()));
            if turn.is_empty() {
                break;
            }
            for &slot in &turn {
                self.poll(slot, late);
            }
            turn.clear();
        }
        self.turn = turn;
    }

    fn inbox_to(&self, turn: &mut Vec<u32>) {
        let inbox = &self.inbox;
        if !inbox.woken.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            inbox.drain(turn);
        }
    }

    fn poll(&mut self, slot: u32, late: &mut LateReplies) {
        let Some(task) = self.tasks.get_mut(slot as usize) else { return };
        let Some(future) = task.future.as_mut() else { return };
        let mut cx = Context::from_waker(&task.waker);
        // The chain's own panics are caught (and answered SERVFAIL) inside the future; one
        // past that must still not end the worker, as it did not end a runtime thread.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
        let reply = match polled {
            Ok(Poll::Pending) => return,
            Ok(Poll::Ready(reply)) => reply,
            Err(_) => {
                tracing::error!("a waiting query's reply panicked; the query is dropped");
                None
            }
        };
        task.future = None;
        if let Some(bytes) = reply {
            late.push(bytes, task.client);
        }
        task.guard = None;
        self.free.push(slot);
        self.live -= 1;
    }
}

/// Replies of waiting queries, sent together with `sendmmsg` at the end of the loop's turn.
#[derive(Default)]
pub struct LateReplies {
    replies: Vec<(Vec<u8>, socket2::SockAddr)>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl LateReplies {
    fn push(&mut self, bytes: Vec<u8>, client: SocketAddr) {
        self.replies.push((bytes, client.into()));
    }

    /// Sends every reply on `fd` (as `udp_batch::send_all` sends), then hands each buffer to
    /// `reuse`; returns how many did not reach the wire.
    pub fn send(&mut self, fd: RawFd, mut reuse: impl FnMut(Vec<u8>)) -> usize {
        if self.replies.is_empty() {
            return 0;
        }
        self.iovecs.clear();
        self.headers.clear();
        for (bytes, _) in &self.replies {
            self.iovecs
                .push(libc::iovec { iov_base: bytes.as_ptr() as *mut _, iov_len: bytes.len() });
        }
        // The addresses and iovecs stay where they are until the sends return (neither vector
        // is touched meanwhile).
        for (i, (_, addr)) in self.replies.iter().enumerate() {
            let name = addr.as_ptr() as *mut libc::c_void;
            self.headers.push(message_header(&mut self.iovecs[i], name, addr.len()));
        }
        let refused = super::udp_batch::send_all(fd, &mut self.headers);
        self.headers.clear();
        self.iovecs.clear();
        for (bytes, _) in self.replies.drain(..) {
            reuse(bytes);
        }
        refused
    }
}
