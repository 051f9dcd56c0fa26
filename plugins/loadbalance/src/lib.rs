//! *loadbalance*: reorders the address records of successful replies, so that clients that
//! take the first address spread over all of them.
//!
//! * [`parse`] reads `loadbalance [round_robin | weighted FILE { reload DURATION }] { prefer
//!   CIDR... }`.
//! * [`shuffle`]: round robin (a random order per reply) and `prefer` (addresses in the given
//!   subnets first). [`weighted`]: a weighted random first address from a weight file.
//! * [`LoadBalance`] is the handler: it sits early in the chain and reorders what everything
//!   after it answered, cache hits included. Replies other than NOERROR, and zone transfers,
//!   are left alone.

pub mod shuffle;
pub mod weighted;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use plugin_api::corefile::dispenser::parse_error;
use plugin_api::pkg::duration::parse_go_duration;
use plugin_api::pkg::zone::parse_cidr;
use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::RecordType;
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};

/// The directive's name.
pub const NAME: &str = "loadbalance";

/// How the first address is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// A random order per reply.
    RoundRobin,
    /// A weighted random first address, weights from a file re-read every `reload`.
    Weighted {
        /// The weight file.
        file: PathBuf,
        /// How often it is checked; zero never.
        reload: Duration,
    },
}

/// The parsed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The policy.
    pub policy: Policy,
    /// Subnets whose addresses go first, in order.
    pub prefer: Vec<(IpAddr, u8)>,
}

/// Reads the directive.
pub fn parse(c: &mut Controller) -> Result<Options, ConfigError> {
    let mut o = Options { policy: Policy::RoundRobin, prefer: Vec::new() };
    while c.next() {
        let args = c.remaining_args();
        match args.first().map(String::as_str) {
            None => o.policy = Policy::RoundRobin,
            Some("round_robin") => {
                if args.len() > 1 {
                    return Err(c.err("unknown property for round_robin"));
                }
                o.policy = Policy::RoundRobin;
            }
            Some("weighted") => {
                let file = match args.as_slice() {
                    [_] => return Err(c.err("missing weight file argument")),
                    [_, file] => PathBuf::from(file),
                    _ => return Err(c.err("unexpected argument(s)")),
                };
                let mut reload = Duration::from_secs(30);
                while c.next_block() {
                    match c.val() {
                        "reload" => {
                            let t = c.remaining_args();
                            reload = match t.as_slice() {
                                [] => return Err(c.err("reload duration value is missing")),
                                [d] => parse_go_duration(d)
                                    .map_err(|_| c.err(format!("invalid reload duration '{d}'")))?,
                                _ => return Err(c.err("unexpected argument")),
                            };
                        }
                        other => return Err(c.err(format!("unknown property '{other}'"))),
                    }
                }
                o.policy = Policy::Weighted { file, reload };
            }
            Some(other) => return Err(c.err(format!("unknown policy: {other}"))),
        }
        while c.next_block() {
            match c.val() {
                "prefer" => {
                    for cidr in c.remaining_args() {
                        let subnet = parse_cidr(&cidr).ok_or_else(|| {
                            c.err(format!("invalid CIDR \"{cidr}\": invalid CIDR address: {cidr}"))
                        })?;
                        o.prefer.push(subnet);
                    }
                }
                other => return Err(c.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(o)
}

/// Sets up the handler; a weight file is read at start-up and checked every `reload`.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    // Errors found after parsing point at the directive, not at the end of its block.
    let (source, line) =
        c.tokens().first().map_or(("".into(), 0), |t| (t.file.to_string(), t.line));
    let options = parse(c)?;
    let weights: Arc<ArcSwap<weighted::Weights>> = Arc::default();
    if let Policy::Weighted { file, reload } = &options.policy {
        let (file, reload) = (file.clone(), *reload);
        let w = weights.clone();
        let mut last = None;
        // The first read happens at setup: a broken file without reload is an error at once.
        match load_weights(&file, &mut last) {
            Ok(Some(new)) => w.store(Arc::new(new)),
            Ok(None) => {}
            Err(e) if reload.is_zero() => return Err(parse_error(&source, line, &e)),
            Err(e) => tracing::warn!(
                "plugin/loadbalance: Failed to open weight file:{e}. Will try again in {}",
                plugin_api::pkg::duration::format_go_duration(reload)
            ),
        }
        if !reload.is_zero() {
            c.background(async move {
                let mut tick = tokio::time::interval(reload);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match load_weights(&file, &mut last) {
                        Ok(Some(new)) => w.store(Arc::new(new)),
                        Ok(None) => {}
                        Err(e) => tracing::error!("plugin/loadbalance: {e}"),
                    }
                }
            });
        }
    }
    Ok(Some(Arc::new(LoadBalance { inner: Arc::new(Inner { options, weights }) })))
}

/// Reads the weight file; `Ok(None)` if its content is what was read last time.
fn load_weights(
    file: &PathBuf,
    last: &mut Option<Vec<u8>>,
) -> Result<Option<weighted::Weights>, String> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| format!("weight file open error: {name}: {e}"))?;
    if last.as_deref() == Some(bytes.as_slice()) {
        return Ok(None);
    }
    let weights = weighted::parse(&String::from_utf8_lossy(&bytes), &name)?;
    *last = Some(bytes);
    tracing::info!("plugin/loadbalance: Successfully reloaded weight file {name}");
    Ok(Some(weights))
}

struct Inner {
    options: Options,
    weights: Arc<ArcSwap<weighted::Weights>>,
}

impl Inner {
    fn reorder(&self, msg: &mut Message) {
        if msg.metadata.response_code != ResponseCode::NoError {
            return;
        }
        let qtype = msg.queries.first().map(|q| q.query_type());
        if matches!(qtype, Some(RecordType::AXFR | RecordType::IXFR)) {
            return;
        }
        match &self.options.policy {
            Policy::RoundRobin => {
                shuffle::round_robin(&mut msg.answers);
                shuffle::round_robin(&mut msg.authorities);
                shuffle::round_robin(&mut msg.additionals);
            }
            Policy::Weighted { .. } => {
                if matches!(qtype, Some(RecordType::A | RecordType::AAAA | RecordType::SRV)) {
                    let weights = self.weights.load();
                    weighted::apply(&mut msg.answers, &weights);
                    weighted::apply(&mut msg.additionals, &weights);
                }
            }
        }
        if !self.options.prefer.is_empty() {
            shuffle::prefer(&mut msg.answers, &self.options.prefer);
            shuffle::prefer(&mut msg.additionals, &self.options.prefer);
        }
    }
}

/// The *loadbalance* handler.
pub struct LoadBalance {
    inner: Arc<Inner>,
}

impl Plugin for LoadBalance {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        next.run(ctx, req).map_with(&self.inner, req, |inner, _, result| reorder(inner, result))
    }
}

fn reorder(inner: &Inner, result: plugin_api::ServeResult) -> plugin_api::ServeResult {
    match result {
        Ok(Reply::Message { mut msg, by }) => {
            inner.reorder(&mut msg);
            Ok(Reply::Message { msg, by })
        }
        // A cache hit in wire form: round robin swaps the addresses in place when the sections
        // allow it (the common case: addresses of one name, maybe after CNAMEs); anything else
        // is decoded and reordered as a message.
        Ok(Reply::Wire { mut wire, by }) => {
            let plain_round_robin =
                inner.options.policy == Policy::RoundRobin && inner.options.prefer.is_empty();
            if wire.rcode() != ResponseCode::NoError
                || (plain_round_robin && wire.shuffle_addresses(shuffle::random_below))
            {
                return Ok(Reply::Wire { wire, by });
            }
            match wire.decode() {
                Some(mut msg) => {
                    inner.reorder(&mut msg);
                    Ok(Reply::Message { msg, by })
                }
                None => Ok(Reply::Wire { wire, by }),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use plugin_api::test_util::{self, Form, rr};

    use super::*;

    fn opts(input: &str) -> Result<Options, String> {
        parse(&mut Controller::from_text(input)).map_err(|e| e.to_string())
    }

    #[test]
    fn setup_table() {
        assert_eq!(opts("loadbalance").unwrap().policy, Policy::RoundRobin);
        assert_eq!(opts("loadbalance round_robin").unwrap().policy, Policy::RoundRobin);
        assert_eq!(
            opts("loadbalance weighted /w {\n reload 10s\n}").unwrap().policy,
            Policy::Weighted { file: "/w".into(), reload: Duration::from_secs(10) }
        );
        let o = opts("loadbalance round_robin {\n prefer 10.0.0.0/8 fd00::/8\n}").unwrap();
        assert_eq!(o.prefer.len(), 2);
    }

    #[test]
    fn setup_errors() {
        let rows = [
            (
                "loadbalance round_robin x",
                "Testfile:1 - Error during parsing: unknown property for round_robin",
            ),
            (
                "loadbalance weighted",
                "Testfile:1 - Error during parsing: missing weight file argument",
            ),
            (
                "loadbalance weighted a b",
                "Testfile:1 - Error during parsing: unexpected argument(s)",
            ),
            (
                "loadbalance weighted a {\n reload\n}",
                "Testfile:2 - Error during parsing: reload duration value is missing",
            ),
            (
                "loadbalance weighted a {\n reload x\n}",
                "Testfile:2 - Error during parsing: invalid reload duration 'x'",
            ),
            ("loadbalance fastest", "Testfile:1 - Error during parsing: unknown policy: fastest"),
            (
                "loadbalance {\n prefer 10.0.0.1\n}",
                "Testfile:2 - Error during parsing: invalid CIDR \"10.0.0.1\": invalid CIDR address: 10.0.0.1",
            ),
            (
                "loadbalance {\n nope\n}",
                "Testfile:2 - Error during parsing: unknown property 'nope'",
            ),
        ];
        for (input, want) in rows {
            assert_eq!(opts(input).unwrap_err(), want, "{input}");
        }
    }

    #[test]
    fn unreadable_weight_file_without_reload_is_a_setup_error() {
        let input = "loadbalance weighted /nonexistent/weights {\n reload 0\n}";
        let err = setup(&mut Controller::from_text(input)).err().expect("setup must fail");
        let text = err.to_string();
        assert!(
            text.starts_with("Testfile:1 - Error during parsing: weight file open error"),
            "{text}"
        );
        assert!(text.contains("/nonexistent/weights"), "{text}");
    }

    /// Four addresses for `a.test.`; NXDOMAIN with them for TXT, which must stay in order.
    fn many(req: &Request) -> Message {
        let mut m = req.reply();
        for i in 1..=4 {
            m.add_answer(rr(&format!("a.test. 60 IN A 10.0.0.{i}")));
        }
        if req.qtype() == RecordType::TXT {
            m.metadata.response_code = ResponseCode::NXDomain;
        }
        m
    }

    fn first_answers(qtype: RecordType, form: Form, rounds: usize) -> HashSet<String> {
        let lb = setup(&mut Controller::from_text("loadbalance")).unwrap().unwrap();
        (0..rounds)
            .map(|_| {
                let req = test_util::request("a.test.", qtype);
                let r = test_util::serve_before(lb.clone(), many, form, req);
                test_util::reply_message(r).answers[0].data.to_string()
            })
            .collect()
    }

    #[test]
    fn successful_replies_are_shuffled_others_are_not() {
        for form in Form::BOTH {
            let leaders = first_answers(RecordType::A, form, 200);
            assert_eq!(leaders.len(), 4, "every address leads sometimes ({form:?})");
            let leaders = first_answers(RecordType::TXT, form, 50);
            assert_eq!(leaders.len(), 1, "NXDOMAIN is left alone ({form:?})");
        }
    }
}
