//! *hosts*: answers A, AAAA and PTR queries from a hosts file and from lines in the Corefile.
//!
//! * [`setup::parse`] reads `hosts [FILE [ZONES...]] { INLINE...; ttl; no_reverse; reload;
//!   fallthrough [ZONES...]; fallthrough_unsupported }`.
//! * [`table`] turns hosts-file text into a table of ready records, rebuilt whole on each load.
//! * [`Hosts`] is the handler. It reads the table through an atomic pointer, never a lock; the
//!   file is checked every `reload` interval and read again when its modification time or size
//!   changed.
//!
//! Answers follow CoreDNS exactly, including its surprises: a name the table does not have is
//! SERVFAIL without `fallthrough` (there is no SOA to deny it with), a known name asked for
//! another type is NOERROR with nothing in it and no SOA, and PTR queries are answered for any
//! reverse name, inside the zones or not.

pub mod metrics;
pub mod setup;
pub mod table;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use metrics::{ENTRIES, RELOAD_TIME};
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::pkg::zone::longest_match;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{A, AAAA};
use plugin_api::proto::rr::{RData, Record, RecordType};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};
use setup::{Options, parse};
use table::{Addresses, Entries, Table};

/// The directive's name.
pub const NAME: &str = "hosts";

/// What the file looked like when it was last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Stamp {
    mtime: Option<SystemTime>,
    size: u64,
}

/// The loaded state: options, the inline entries, the file's last entries, and the table.
struct State {
    options: Options,
    inline: Entries,
    file: Mutex<(Stamp, Entries)>,
    table: ArcSwap<Table>,
}

impl State {
    fn new(options: Options) -> Self {
        let (inline, skipped) = table::parse(&options.inline.join("\n"), &options.zones);
        for (line, why) in skipped {
            tracing::warn!("plugin/hosts: inline entry {line}: skipping line: {why}");
        }
        let table = Table::build(&[&inline], options.ttl, options.reverse);
        Self {
            options,
            inline,
            file: Mutex::new((Stamp::default(), Entries::default())),
            table: ArcSwap::from_pointee(table),
        }
    }

    /// Reads the file if it changed since the last read, and swaps in a new table. A missing or
    /// unreadable file keeps what was loaded before.
    fn refresh(&self) {
        let path = &self.options.path;
        let Ok(meta) = std::fs::metadata(path) else { return };
        if !meta.is_file() {
            return;
        }
        let stamp = Stamp { mtime: meta.modified().ok(), size: meta.len() };
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.0 == stamp && stamp != Stamp::default() {
            return;
        }
        let Ok(bytes) = std::fs::read(path) else { return };
        let (entries, skipped) =
            table::parse(&String::from_utf8_lossy(&bytes), &self.options.zones);
        for (line, why) in skipped {
            tracing::warn!("plugin/hosts: {}:{line}: skipping line: {why}", path.display());
        }
        let o = &self.options;
        self.table.store(Arc::new(Table::build(&[&entries, &self.inline], o.ttl, o.reverse)));
        let count = entries.count(o.reverse) + self.inline.count(o.reverse);
        ENTRIES.with_label_values(&[&path.to_string_lossy()]).set(count as i64);
        if let Some(secs) = stamp.mtime.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            RELOAD_TIME.set(secs.as_secs_f64());
        }
        *file = (stamp, entries);
    }
}

/// Sets up the handler: reads the file now, then checks it every `reload` interval.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let options = parse(c)?;
    let state = Arc::new(State::new(options));
    state.refresh();

    if !state.options.reload.is_zero() {
        let s = state.clone();
        c.background(async move {
            let mut tick = tokio::time::interval(s.options.reload);
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = s.clone();
                let _ = tokio::task::spawn_blocking(move || s.refresh()).await;
            }
        });
    }
    Ok(Some(Arc::new(Hosts { state })))
}

/// The *hosts* handler.
pub struct Hosts {
    state: Arc<State>,
}

impl Plugin for Hosts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let o = &self.state.options;
        let name = req.name();
        let qtype = req.qtype();
        let in_zone = longest_match(&o.zones, name).is_some();
        if !in_zone && qtype != RecordType::PTR {
            return next.run(ctx, req);
        }
        let table = self.state.table.load();
        match qtype {
            RecordType::PTR => {
                let ptr = req.reverse_addr().and_then(|ip| table.ptr(|| lower_qname(req), ip));
                let Some(records) = ptr else { return next.run(ctx, req) };
                let mut msg = req.reply();
                msg.metadata.authoritative = true;
                msg.answers = records;
                return Serve::Ready(Ok(Reply::message(msg, NAME)));
            }
            RecordType::A | RecordType::AAAA => {}
            _ if o.fallthrough_unsupported && o.fall.through(name) => return next.run(ctx, req),
            _ => {}
        }
        // Looked up only past the PTR case, which needs the address, not the name: this plugin
        // sees every reverse query of the server, in its zones or not.
        let known = table.lookup(name);
        let name_exists = known.is_some_and(Addresses::exist);
        let (v4, v6) = match (qtype, known) {
            (RecordType::A, Some(k)) => (&k.v4[..], &[][..]),
            (RecordType::AAAA, Some(k)) => (&[][..], &k.v6[..]),
            _ => (&[][..], &[][..]),
        };
        if v4.is_empty() && v6.is_empty() && !name_exists {
            if o.fall.through(name) {
                return next.run(ctx, req);
            }
            return Serve::Ready(Ok(Reply::Rcode(ResponseCode::ServFail)));
        }
        let ttl = table.ttl();
        // The addresses go straight into the reply's bytes: no records built, nothing encoded.
        let Some(mut answer) = ReplyWriter::new(req) else {
            // Not class IN (a listener that also serves CHAOS): the general path.
            return Serve::Ready(Ok(Reply::message(message_answer(req, ttl, v4, v6), NAME)));
        };
        v4.iter().for_each(|ip| answer.a(ttl, *ip));
        v6.iter().for_each(|ip| answer.aaaa(ttl, *ip));
        Serve::Ready(Ok(Reply::Wire { wire: answer.finish(), by: NAME }))
    }
}

/// The same answer as a message, owned by the lower-cased query name.
fn message_answer(req: &Request, ttl: u32, v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Message {
    let owner = lower_qname(req);
    let mut msg = req.reply();
    msg.metadata.authoritative = true;
    let v4 = v4.iter().map(|ip| RData::A(A(*ip)));
    let v6 = v6.iter().map(|ip| RData::AAAA(AAAA(*ip)));
    msg.answers = v4.chain(v6).map(|data| Record::from_rdata(owner.clone(), ttl, data)).collect();
    msg
}

/// The query name lower-cased: CoreDNS's hosts answers are owned by `state.Name()`.
fn lower_qname(req: &Request) -> plugin_api::proto::rr::Name {
    req.qname().to_lowercase()
}

#[cfg(test)]
mod tests;
