//! UDP exchanges with upstream servers run by the server's own UDP worker, not by the runtime.
//!
//! A query that reaches *forward* on a UDP listener is served on one of the server's UDP worker
//! threads. Sent from a socket of its own and awaited through tokio, each such exchange cost a
//! runtime task, a wake-up of a runtime thread, a timer, and a `send` and a `recv` of its own.
//! The worker instead keeps a few connected sockets per upstream, sends the queries a batch
//! produced with one `sendmmsg` per socket, takes the replies with `recvmmsg` in the same loop
//! that reads the clients' queries, and polls the waiting query where its reply arrived.
//!
//! A plugin asks for an exchange with [`exchange`]; it gets `None` on any other thread (a TCP
//! connection's task, a health probe, a test), and then exchanges on its own as before. The
//! returned [`Exchange`] is a future that must be polled on the thread that made it, which the
//! worker guarantees for the queries it runs; dropping it cancels the exchange.
//!
//! What the worker promises ([`Exchanger`], implemented by the server): the query goes out with
//! an id of the worker's choosing that no other exchange in flight on that socket uses, drawn
//! from an unpredictable generator; only a reply from the upstream's address and port
//! (connected sockets), with that id and the query's question ([`replies_to`]), ends the
//! exchange; anything else is passed over. At the deadline the exchange fails with `TimedOut`.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Where an exchange stands, as the worker reports it.
pub type Outcome = Result<Vec<u8>, Failure>;

/// What failed, for an error worded as Go words network errors (`read udp A->B: ...`).
#[derive(Debug)]
pub struct Failure {
    /// `"write"` or `"read"` (or `"dial"` when no socket could be opened).
    pub op: &'static str,
    /// The socket's local address, if it had one.
    pub local: Option<SocketAddr>,
    /// The error itself; `TimedOut` at the deadline.
    pub error: io::Error,
}

/// An exchange the worker tracks: its slot and the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Which worker holds it (so a ticket polled elsewhere is refused, not confused).
    pub worker: u32,
    /// The slot.
    pub index: u32,
    /// The slot's use count when the exchange started.
    pub generation: u32,
}

/// An exchange as a plugin asks for it.
pub struct Query<'a> {
    /// The upstream.
    pub to: SocketAddr,
    /// The query in wire form; its id is replaced by the worker's.
    pub bytes: &'a [u8],
    /// When to give up.
    pub deadline: Instant,
    /// A socket is replaced once it is this old (forward's `expire`), so that the source ports
    /// an attacker would have to guess keep changing.
    pub expire: Duration,
    /// The largest reply taken (the buffer the query advertised); a larger one is an error.
    pub limit: usize,
}

/// The server's side: a UDP worker that runs exchanges.
pub trait Exchanger {
    /// This worker's number, as tickets carry it.
    fn worker(&self) -> u32;
    /// Queues the query to be sent when the worker's batch ends. Returns the ticket and
    /// whether an existing socket was used (forward's connection cache metric).
    fn start(&self, query: &Query<'_>) -> Result<(Ticket, bool), Failure>;
    /// The reply or the failure, once there is one; otherwise `cx`'s waker is woken when
    /// there is.
    fn poll(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<Outcome>;
    /// Forgets an exchange whose future was dropped.
    fn cancel(&self, ticket: Ticket);
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<dyn Exchanger>>> = const { RefCell::new(None) };
}

/// Makes `exchanger` this thread's (server only: called by each UDP worker as it starts).
pub fn install(exchanger: Rc<dyn Exchanger>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(exchanger));
}

fn current() -> Option<Rc<dyn Exchanger>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Starts an exchange on this thread's worker; `None` when this thread has none.
pub fn exchange(query: &Query<'_>) -> Option<Result<(Exchange, bool), Failure>> {
    let worker = current()?;
    Some(worker.start(query).map(|(ticket, reused)| (Exchange { ticket, done: false }, reused)))
}

/// A started exchange: resolves to the reply's bytes or the failure.
#[derive(Debug)]
pub struct Exchange {
    ticket: Ticket,
    done: bool,
}

impl Future for Exchange {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let moved = || Failure {
            op: "read",
            local: None,
            error: io::Error::other("exchange polled away from its worker"),
        };
        let Some(worker) = current() else { return Poll::Ready(Err(moved())) };
        if worker.worker() != self.ticket.worker {
            return Poll::Ready(Err(moved()));
        }
        let outcome = worker.poll(self.ticket, cx);
        if outcome.is_ready() {
            self.done = true;
        }
        outcome
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(worker) = current()
            && worker.worker() == self.ticket.worker
        {
            worker.cancel(self.ticket);
        }
    }
}

/// The question of a message in wire form (name, then type and class), if it has exactly one
/// and its name is not compressed (a question's name has nothing before it to point at).
fn question(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    if msg.len() < 12 || u16::from_be_bytes([msg[4], msg[5]]) != 1 {
        return None;
    }
    let mut i = 12;
    loop {
        let len = usize::from(*msg.get(i)?);
        i += 1;
        match len {
            0 => break,
            1..=63 => i += len,
            _ => return None,
        }
    }
    Some((msg.get(12..i)?, msg.get(i..i + 4)?))
}

/// Whether `reply` is a response to `query`'s question: the same name (letter case aside, which
/// some servers change), type and class. A response without a question counts only when it is
/// an error (a server may leave the question out of FORMERR or NOTIMP).
pub fn replies_to(query: &[u8], reply: &[u8]) -> bool {
    if reply.len() < 12 || reply[2] & 0x80 == 0 {
        return false;
    }
    if u16::from_be_bytes([reply[4], reply[5]]) == 0 {
        return reply[3] & 0x0f != 0;
    }
    match (question(query), question(reply)) {
        (Some((qn, qt)), Some((rn, rt))) => qn.eq_ignore_ascii_case(rn) && qt == rt,
        _ => false,
    }
}
