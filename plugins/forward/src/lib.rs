//! *forward*: sends queries to upstream resolvers and relays their replies.
//!
//! * [`setup()`] reads every `forward FROM TO... { options }` line of a block ([`setup::parse`]).
//! * [`upstream`]: one upstream — exchanges over UDP and TCP with reused connections, health
//!   probes after failures.
//! * [`relayed`]: the reply handed on in wire form as it came (less its OPT), never decoded
//!   unless it cannot be walked; [`coalesce`]: identical questions in flight share one exchange.
//! * [`Forward`] is the handler. The lines are tried in the order written: the first whose FROM
//!   zone holds the query name (and whose `except` does not) handles it; `next RCODE` sends the
//!   query on to the following line. Queries no line takes go to the next plugin.
//!
//! Per query, as in CoreDNS: an overall deadline of 5 s; upstreams in policy order, skipping
//! those that are down; on a failed exchange the next upstream is tried and the failed one is
//! probed; if every upstream is down one is tried anyway (or, with
//! `failfast_all_unhealthy_upstreams`, none); at most `max_connect_attempts` attempts (two per
//! upstream by default). The reply is relayed as it came. Over UDP only a reply with the
//! exchange's own (unpredictable) id and the query's question is taken, anything else is passed
//! over as a possible forgery; over TCP a reply to another question is answered FORMERR, as
//! CoreDNS answers it; garbage counts as a failed exchange. When nothing answers the
//! query is SERVFAIL with the last upstream error (or `no healthy proxies`), which *errors* logs.

pub mod coalesce;
pub mod metrics;
pub mod relayed;
pub mod setup;
pub mod tls;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use plugin_api::pkg::dnstap::{Kind, Taps, Transport};
use plugin_api::pkg::zone::is_subdomain;
use plugin_api::proto::op::ResponseCode;
use plugin_api::{
    ConfigError, Controller, Ctx, Next, Plugin, PluginError, Proto, Request, Serve, ServeResult,
};
use relayed::Relayed;
use rustls::pki_types::ServerName;
use setup::{Policy, Stanza};
use upstream::{Settings, Upstream};

/// The directive's name.
pub const NAME: &str = "forward";

/// The most time one query may take across all attempts.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Reads the block's `forward` lines and builds the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let stanzas = setup::parse(c)?;
    metrics::init();
    let mut lines = Vec::new();
    for stanza in stanzas {
        lines.push(Line::new(stanza).map_err(|e| c.err(e))?);
    }
    Ok(Some(Arc::new(Forward {
        lines: Arc::new(lines),
        coalescer: Arc::new(coalesce::Coalescer::default()),
        // The block's *dnstap* lines, set up before this one (they come first in the chain).
        taps: Arc::new(plugin_api::pkg::dnstap::taps_of(c)),
    })))
}

/// One `forward` line, ready to serve.
pub struct Line {
    /// Its settings.
    pub stanza: Stanza,
    upstreams: Vec<Arc<Upstream>>,
    in_flight: AtomicUsize,
    turn: AtomicUsize,
}

impl Line {
    fn new(stanza: Stanza) -> Result<Self, String> {
        let settings = Arc::new(Settings {
            expire: stanza.expire,
            max_idle: stanza.max_idle_conns,
            max_fails: stanza.max_fails,
            health_check: stanza.health_check,
            hc_tcp: stanza.force_tcp,
            hc_recursion_desired: stanza.hc_recursion_desired,
            hc_domain: stanza.hc_domain.clone(),
        });
        let config = if stanza.to.iter().any(|t| t.tls) {
            Some(tls::client_config(&stanza.tls)?)
        } else {
            None
        };
        let mut upstreams = Vec::new();
        for to in &stanza.to {
            let tls = match (&config, to.tls) {
                (Some(config), true) => {
                    let name = stanza.tls_servername.clone().or_else(|| to.server_name.clone());
                    let server_name = match name {
                        Some(n) => ServerName::try_from(n.clone())
                            .map_err(|_| format!("invalid TLS server name {n:?}"))?,
                        None => ServerName::IpAddress(to.addr.ip().into()),
                    };
                    Some((config.clone(), server_name))
                }
                _ => None,
            };
            upstreams.push(Arc::new(Upstream::new(to.addr, settings.clone(), tls)));
        }
        Ok(Self { stanza, upstreams, in_flight: AtomicUsize::new(0), turn: AtomicUsize::new(0) })
    }

    /// True if this line forwards `name`.
    fn matches(&self, name: &str) -> bool {
        is_subdomain(&self.stanza.from, name)
            && !self.stanza.except.iter().any(|e| is_subdomain(e, name))
    }

    /// The upstreams in the order this query tries them (at most `MAX_UPSTREAMS`, so on the
    /// stack).
    fn order(&self) -> Order {
        let n = self.upstreams.len().min(setup::MAX_UPSTREAMS);
        let mut order = Order { at: [0; setup::MAX_UPSTREAMS], n };
        for (i, slot) in order.at.iter_mut().enumerate() {
            *slot = i as u8;
        }
        let order_slice = &mut order.at[..n];
        match self.stanza.policy {
            Policy::Sequential => {}
            Policy::RoundRobin => {
                order_slice.rotate_left(self.turn.fetch_add(1, Ordering::Relaxed) % n.max(1));
            }
            Policy::Random => {
                for i in (1..n).rev() {
                    order_slice.swap(i, plugin_api::pkg::random::below(i + 1));
                }
            }
        }
        order
    }
}

/// The order a query tries a line's upstreams in.
struct Order {
    at: [u8; setup::MAX_UPSTREAMS],
    n: usize,
}

impl Order {
    fn len(&self) -> usize {
        self.n
    }
}

impl Order {
    /// The index of the `i`th upstream to try.
    fn at(&self, i: usize) -> usize {
        usize::from(self.at[..self.n][i])
    }
}

/// The *forward* handler: every `forward` line of the block, in order.
pub struct Forward {
    lines: Arc<Vec<Line>>,
    /// Identical questions in flight share one exchange.
    coalescer: Arc<coalesce::Coalescer>,
    /// Where FORWARDER_QUERY and FORWARDER_RESPONSE messages go (none without *dnstap*).
    taps: Arc<Taps>,
}

impl Plugin for Forward {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        let Some(first) = self.lines.iter().position(|l| l.matches(req.name())) else {
            return next.run(ctx, req);
        };
        let (lines, coalescer, taps) =
            (self.lines.clone(), self.coalescer.clone(), self.taps.clone());
        let req = req.clone();
        Serve::pending(async move { serve_from(lines, coalescer, taps, first, req).await })
    }
}

/// Serves with line `index`, going on to later lines as `next RCODE` says.
async fn serve_from(
    lines: Arc<Vec<Line>>,
    coalescer: Arc<coalesce::Coalescer>,
    taps: Arc<Taps>,
    mut index: usize,
    req: Arc<Request>,
) -> ServeResult {
    loop {
        let line = &lines[index];
        let reply = forward_shared(line, index, &coalescer, &taps, &req).await?;
        let rcode = reply.rcode();
        let nodata = rcode == ResponseCode::NoError && reply.answer_count() == 0;
        let pass_on = line.stanza.next.contains(&rcode) || (line.stanza.next_on_nodata && nodata);
        if pass_on {
            // Only another forward line takes it, as in CoreDNS.
            if let Some(later) = lines.iter().skip(index + 1).position(|l| l.matches(req.name())) {
                index += 1 + later;
                continue;
            }
        }
        return Ok(reply.into_reply());
    }
}

/// [`forward`], or the reply of the same question already in flight (see [`coalesce`]).
async fn forward_shared(
    line: &Line,
    index: usize,
    coalescer: &coalesce::Coalescer,
    taps: &Taps,
    req: &Arc<Request>,
) -> Result<Relayed, PluginError> {
    let Some(role) = coalescer.join(index, req) else { return forward(line, taps, req).await };
    match role {
        coalesce::Role::Leader(leader) => {
            let outcome = forward(line, taps, req).await;
            leader.publish(&outcome);
            outcome
        }
        coalesce::Role::Waiter(done) => {
            metrics::COALESCED.inc();
            // Boxed, as the rarer path, so that it does not add its state to every query's.
            Box::pin(coalesce::wait(done, req, DEADLINE)).await
        }
        coalesce::Role::Alone => forward(line, taps, req).await,
    }
}

/// Decrements the in-flight count when a query finishes, however it finishes.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One line's work for one query.
async fn forward(line: &Line, taps: &Taps, req: &Request) -> Result<Relayed, PluginError> {
    let s = &line.stanza;
    let count = line.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    let _in_flight = InFlight(&line.in_flight);
    if s.max_concurrent > 0 && count > s.max_concurrent {
        metrics::MAX_CONCURRENT_REJECTS.inc();
        return Err(PluginError::new(
            ResponseCode::Refused,
            format!("concurrent queries exceeded maximum {}", s.max_concurrent),
        ));
    }

    // Written straight from the query's parts into the thread's spare buffer (given back when
    // the exchange ends); a query with more in it is encoded as a message.
    let mut query = plugin_api::pkg::wire::SpareBuffer::take(req.len().max(64));
    if !req.write_query(&mut query) {
        let encoded = req
            .to_message()
            .to_vec()
            .map_err(|e| PluginError::new(ResponseCode::FormErr, e.to_string()))?;
        query.clear();
        query.extend_from_slice(&encoded);
    }
    let udp_size = req.max_payload().unwrap_or(512);
    let order = line.order();
    let n = order.len();
    let max_attempts = s.max_connect_attempts.map_or(2 * n, |m| m as usize);
    let mut attempts = 0usize;
    let mut fails = 0usize;
    let mut failovers = 0usize;
    let mut last_error: Option<String> = None;
    let mut i = 0usize;

    // One clock reading per attempt: it dates the attempt and bounds the next.
    let mut now = Instant::now();
    let deadline = now + DEADLINE;
    while now < deadline && (max_attempts == 0 || attempts < max_attempts) {
        if i >= n {
            i = 0;
            fails = 0;
        }
        let mut upstream = &line.upstreams[order.at(i)];
        i += 1;
        if upstream.down() {
            fails += 1;
            if fails < n {
                continue;
            }
            metrics::HEALTHCHECK_BROKEN.inc();
            if s.failfast_all_unhealthy {
                break;
            }
            upstream = &line.upstreams[plugin_api::pkg::random::below(n)];
        }

        let mut tcp =
            upstream.is_tls() || s.force_tcp || (!s.prefer_udp && req.proto() == Proto::Tcp);
        // Each exchange goes out under an id of its own that nobody can guess (the client's may
        // be known to whoever would forge the reply), as CoreDNS's does; the reply gets the
        // client's back.
        let id = plugin_api::pkg::random::unpredictable_id();
        query[..2].copy_from_slice(&id.to_be_bytes());
        let started = now;
        // The wall clock only for dnstap, which dates messages by it.
        let tapped_at = (!taps.is_empty()).then(SystemTime::now);
        let remaining = deadline.saturating_duration_since(now);
        let mut result =
            upstream.exchange(&query, id, tcp, s.read_timeout.min(remaining), udp_size).await;
        // A truncated UDP reply with prefer_udp: ask again over TCP.
        if let Ok(bytes) = &result
            && !tcp
            && s.prefer_udp
            && !s.force_tcp
            && bytes.len() > 2
            && bytes[2] & 0x02 != 0
        {
            tcp = true;
            let remaining = deadline.saturating_duration_since(Instant::now());
            result =
                upstream.exchange(&query, id, tcp, s.read_timeout.min(remaining), udp_size).await;
        }
        now = Instant::now();
        if let Some(at) = tapped_at {
            let transport = match (upstream.is_tls(), tcp) {
                (true, _) => Transport::Tls,
                (false, true) => Transport::Tcp,
                (false, false) => Transport::Udp,
            };
            let reply = result.as_deref().ok();
            tap_exchange(taps, req, upstream.addr, transport, &query, reply, at);
        }
        let reply = result.and_then(|bytes| Relayed::read(bytes, &upstream.label));
        let reply = match reply {
            Ok(mut r) => {
                r.set_id(req.id());
                r
            }
            Err(e) => {
                last_error = Some(e);
                upstream.healthcheck();
                attempts += 1;
                if max_attempts > 0 && attempts >= max_attempts {
                    break;
                }
                if fails < n {
                    continue;
                }
                break;
            }
        };
        let elapsed = now.saturating_duration_since(started).as_secs_f64();
        upstream.series.duration(&upstream.label, reply.rcode(), elapsed);

        if !reply.answers(req) {
            let mut formerr = req.reply();
            formerr.metadata.response_code = ResponseCode::FormErr;
            return Ok(Relayed::Message(formerr));
        }
        if s.failover.contains(&reply.rcode()) {
            failovers += 1;
            if failovers < n {
                continue;
            }
        }
        return Ok(reply);
    }
    Err(PluginError::servfail(last_error.unwrap_or_else(|| "no healthy proxies".to_string())))
}

/// One exchange as dnstap sees it, as CoreDNS's forward logs it: a FORWARDER_QUERY from the
/// address the client's query came in on to the upstream, and, if the upstream answered, a
/// FORWARDER_RESPONSE with the time it came. The wire messages are the query as it went
/// upstream and the reply as it came back.
fn tap_exchange(
    taps: &Taps,
    req: &Request,
    upstream: SocketAddr,
    transport: Transport,
    query: &[u8],
    reply: Option<&[u8]>,
    at: SystemTime,
) {
    let mut message = plugin_api::pkg::dnstap::Message {
        kind: Kind::ForwarderQuery,
        transport,
        query_address: Some(req.local()),
        response_address: Some(upstream),
        query_time: at,
        response_time: None,
        query: Some(query),
        response: None,
    };
    taps.tap(&message);
    if let Some(reply) = reply {
        message.kind = Kind::ForwarderResponse;
        message.query = None;
        message.response = Some(reply);
        message.response_time = Some(SystemTime::now());
        taps.tap(&message);
    }
}

#[cfg(test)]
mod tests;
