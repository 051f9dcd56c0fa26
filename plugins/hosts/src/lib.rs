//! *hosts*: answers A, AAAA and PTR queries from a hosts file and from lines in the Corefile.
//!
//! * [`parse`] reads `hosts [FILE [ZONES...]] { INLINE...; ttl; no_reverse; reload;
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

pub mod table;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::fall::Fall;
use plugin_api::pkg::metrics;
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::pkg::zone::{longest_match, origins_from_args_or_block};
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::{A, AAAA};
use plugin_api::proto::rr::{RData, Record, RecordType};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};
use prometheus::{Gauge, IntGaugeVec, Opts};
use table::{Addresses, Entries, Table};

/// The directive's name.
pub const NAME: &str = "hosts";

/// The settings of one `hosts` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The hosts file.
    pub path: PathBuf,
    /// The zones answered for A and AAAA (PTR is answered for any reverse name).
    pub zones: Vec<String>,
    /// Lines written in the Corefile, in hosts-file syntax.
    pub inline: Vec<String>,
    /// TTL of every answer.
    pub ttl: u32,
    /// Make PTR records from the addresses.
    pub reverse: bool,
    /// How often the file is checked for changes; zero never.
    pub reload: Duration,
    /// Names passed on when unknown.
    pub fall: Fall,
    /// Pass on types other than A, AAAA and PTR (for names under `fall`).
    pub fallthrough_unsupported: bool,
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options {
        path: PathBuf::from("/etc/hosts"),
        zones: c.zones().to_vec(),
        inline: Vec::new(),
        ttl: 3600,
        reverse: true,
        reload: Duration::from_secs(5),
        fall: Fall::default(),
        fallthrough_unsupported: false,
    };
    while c.next() {
        let mut args = c.remaining_args();
        if !args.is_empty() {
            o.path = PathBuf::from(args.remove(0));
            match std::fs::metadata(&o.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(
                        c.err(format!("unable to access hosts file '{}': {e}", o.path.display()))
                    );
                }
                Err(_) => tracing::warn!("plugin/hosts: File does not exist: {}", o.path.display()),
                Ok(m) if m.is_dir() => tracing::warn!(
                    "plugin/hosts: Hosts file {:?} is a directory",
                    o.path.display().to_string()
                ),
                Ok(_) => {}
            }
        }
        o.zones = origins_from_args_or_block(&args, c.zones());
        while c.next_block() {
            match c.val() {
                "fallthrough" => o.fall = Fall::from_args(&c.remaining_args()),
                "fallthrough_unsupported" => {
                    if !c.remaining_args().is_empty() {
                        return Err(c.arg_err());
                    }
                    o.fallthrough_unsupported = true;
                }
                "no_reverse" => o.reverse = false,
                "ttl" => {
                    let args = c.remaining_args();
                    let Some(first) = args.first() else {
                        return Err(c.err("ttl needs a time in second"));
                    };
                    let ttl: i64 =
                        first.parse().map_err(|_| c.err("ttl needs a number of second"))?;
                    if !(1..=65535).contains(&ttl) {
                        return Err(c.err("ttl provided is invalid"));
                    }
                    o.ttl = ttl as u32;
                }
                "reload" => {
                    let args = c.remaining_args();
                    let [d] = args.as_slice() else {
                        return Err(c.err("reload needs a duration (zero seconds to disable)"));
                    };
                    o.reload = parse_go_duration(d).map_err(|_| {
                        if d.starts_with('-') {
                            c.err(format!("invalid negative duration for reload '{d}'"))
                        } else {
                            c.err(format!("invalid duration for reload '{d}'"))
                        }
                    })?;
                }
                other => {
                    // Anything else is an inline entry, until `fallthrough` has been seen
                    // (CoreDNS's rule).
                    if o.fall.is_empty() {
                        let mut line = vec![other.to_string()];
                        line.extend(c.remaining_args());
                        o.inline.push(line.join(" "));
                        continue;
                    }
                    return Err(c.err(format!("unknown property '{other}'")));
                }
            }
        }
    }
    if o.fallthrough_unsupported && o.fall.is_empty() {
        return Err(c.err("fallthrough_unsupported requires fallthrough"));
    }
    Ok(o)
}

/// `coredns_hosts_entries{hostsfile}`.
pub static ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let opts = Opts::new("entries", "The combined number of entries in hosts and Corefile.")
        .namespace("coredns")
        .subsystem("hosts");
    metrics::register(IntGaugeVec::new(opts, &["hostsfile"]).expect("valid metric"))
});

/// `coredns_hosts_reload_timestamp_seconds`.
pub static RELOAD_TIME: LazyLock<Gauge> = LazyLock::new(|| {
    let opts =
        Opts::new("reload_timestamp_seconds", "The timestamp of the last reload of hosts file.")
            .namespace("coredns")
            .subsystem("hosts");
    metrics::register(Gauge::with_opts(opts).expect("valid metric"))
});

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
