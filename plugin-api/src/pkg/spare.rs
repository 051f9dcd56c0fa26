//! One spare request per thread and plugin, for plugins that pass the plugins after them a
//! changed copy of the query (*rewrite*, *header*): refilled with `Request::rewritten_into` or
//! `Request::copy_into`, it costs no allocation while no later plugin keeps the last one.
//!
//! Each plugin declares its own slot (`thread_local!` of a [`Slot`]): a slot shared between
//! plugins would be empty whenever two of them are in one chain, since the first holds its
//! spare while the second runs.

use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

use crate::Request;

/// Where a plugin keeps its spare request on a thread.
pub type Slot = RefCell<Option<Arc<Request>>>;

/// The slot's spare if no one else holds it, else a new one (a copy of `req`, allocated). The
/// result is held only by the caller, so `Arc::get_mut` succeeds on it.
pub fn take(slot: &'static LocalKey<Slot>, req: &Request) -> Arc<Request> {
    match slot.with_borrow_mut(Option::take) {
        Some(spare) if Arc::strong_count(&spare) == 1 && Arc::weak_count(&spare) == 0 => spare,
        _ => Arc::new(req.clone()),
    }
}

/// Puts `spare` back for the next query on this thread. A later plugin may still hold it (a
/// pending lookup): [`take`] then makes a new one.
pub fn keep(slot: &'static LocalKey<Slot>, spare: Arc<Request>) {
    slot.with_borrow_mut(|kept| *kept = Some(spare));
}
