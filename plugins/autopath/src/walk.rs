//! Walking a search path: each step asks the rest of the chain `BASE.STEP`; the first reply
//! that was written and is not NXDOMAIN is the answer, with a CNAME from the asked name in
//! front; if none is, the first step's reply goes back as it came (CoreDNS's `ServeDNS`).
//!
//! One deliberate difference: CoreDNS puts its CNAME in front of the first answer owned by
//! another name even when the reply already answers the asked name (an ExternalName's CNAME
//! and its target), which duplicates the CNAME; here a reply that answers the asked name is
//! left as it is.

use std::sync::Arc;

use plugin_api::proto::op::{Message, ResponseCode};
use plugin_api::proto::rr::rdata::CNAME;
use plugin_api::proto::rr::{Name, RData, Record};
use plugin_api::{Ctx, Next, PluginError, Reply, Request, Serve, ServeResult};

use crate::metrics::SUCCESS;

/// CoreDNS's `firstInSearchPath`: `name` is the first element or under it.
pub(crate) fn first_in_search_path(name: &str, first: &str) -> bool {
    if first.is_empty() || first == "." || name == first {
        return true;
    }
    name.strip_suffix(first).is_some_and(|rest| rest.ends_with('.'))
}

/// CoreDNS's `dnsutil.TrimZone`: `q` without the last labels that `z` has, and without the
/// dot before them; its words when `z` has as many labels as `q` or more.
pub(crate) fn trim_zone(q: &str, z: &str) -> Result<String, String> {
    let zone_labels = z.split('.').filter(|l| !l.is_empty()).count();
    let labels: Vec<&str> = q.split('.').filter(|l| !l.is_empty()).collect();
    if zone_labels >= labels.len() {
        return Err(format!("trimzone: overshot qname: {q}for zone {z}"));
    }
    Ok(labels[..labels.len() - zone_labels].join("."))
}

/// A walk in progress.
pub(crate) struct Walk {
    path: Vec<String>,
    /// The asked name without the path's first element; an error if it cannot be cut.
    base: Result<String, String>,
    /// The name as asked, case kept, fully qualified.
    original: String,
    step: usize,
    /// The first step's reply, kept in case no step answers.
    first: Option<ServeResult>,
}

impl Walk {
    /// A walk of `path` for `req`.
    pub(crate) fn start(path: Vec<String>, req: &Request) -> Self {
        let original = req.qname().to_ascii();
        let base = trim_zone(&original, &path[0]);
        Self { path, base, original, step: 0, first: None }
    }

    /// Walks the path, in place while the chain answers at once, then in a future.
    pub(crate) fn run(mut self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        if let Err(e) = &self.base {
            return Serve::Ready(Err(PluginError::servfail(e.clone())));
        }
        while self.step < self.path.len() {
            let asked = self.request(req);
            match next.run(ctx, &asked) {
                Serve::Ready(result) => {
                    if let Some(done) = self.judge(result, ctx) {
                        return Serve::Ready(done);
                    }
                }
                Serve::Pending(waiting) => {
                    let (ctx, req, next) = (ctx.clone(), req.clone(), next.to_owned());
                    return Serve::pending(async move {
                        let mut result = waiting.await;
                        loop {
                            if let Some(done) = self.judge(result, &ctx) {
                                return done;
                            }
                            if self.step >= self.path.len() {
                                return self.finish();
                            }
                            let asked = self.request(&req);
                            result = match next.as_next().run(&ctx, &asked) {
                                Serve::Ready(result) => result,
                                Serve::Pending(waiting) => waiting.await,
                            };
                        }
                    });
                }
            }
        }
        Serve::Ready(self.finish())
    }

    /// The query of the current step: `req` itself when the step asks the asked name.
    fn request(&self, req: &Arc<Request>) -> Arc<Request> {
        let name = self.step_name(self.step);
        if name.eq_ignore_ascii_case(&self.original) {
            return req.clone();
        }
        let Ok(qname) = Name::from_ascii(&name) else { return req.clone() };
        let mut msg = req.to_message();
        if let Some(q) = msg.queries.first_mut() {
            q.set_name(qname);
        }
        let mut asked = Request::new(msg, req.src(), req.local(), req.proto(), req.len());
        asked.meta_mut().copy_from(req.meta());
        Arc::new(asked)
    }

    /// Takes the current step's result: `Some` when it is the answer (or an error to return).
    fn judge(&mut self, result: ServeResult, ctx: &Ctx) -> Option<ServeResult> {
        let step = self.step;
        self.step += 1;
        let reply = match result {
            Err(e) => return Some(Err(e)),
            Ok(reply) => reply,
        };
        let written = matches!(reply, Reply::Message { .. } | Reply::Wire { .. });
        if !written || reply.rcode() == Some(ResponseCode::NXDomain) {
            if step == 0 {
                self.first = Some(Ok(reply));
            }
            return None;
        }
        SUCCESS.with_label_values(&[&*ctx.server]).inc();
        if step == 0 && self.step_name(0).eq_ignore_ascii_case(&self.original) {
            // The asked name itself: the reply answers it already.
            return Some(Ok(reply));
        }
        let original = self.original.clone();
        Some(Ok(reply.change(|msg| cnamer(msg, &original))))
    }

    /// The name step `step` asks: the base name in the search path's `step`th domain.
    fn step_name(&self, step: usize) -> String {
        format!("{}.{}", self.base.as_deref().unwrap_or_default(), self.path[step])
    }

    /// No step answered: the first step's reply, as it came.
    fn finish(self) -> ServeResult {
        self.first.unwrap_or(Ok(Reply::Rcode(ResponseCode::ServFail)))
    }
}

/// CoreDNS's `cnamer`: the question becomes the asked name, and unless the reply answers that
/// name already, a CNAME from it to the first answer's owner goes in front, with that
/// answer's TTL.
fn cnamer(msg: &mut Message, original: &str) {
    let Ok(asked) = Name::from_ascii(original) else { return };
    let answers_it = msg.answers.iter().any(|r| r.name.to_ascii().eq_ignore_ascii_case(original));
    if !answers_it && let Some(first) = msg.answers.first() {
        let cname =
            Record::from_rdata(asked.clone(), first.ttl, RData::CNAME(CNAME(first.name.clone())));
        msg.answers.insert(0, cname);
    }
    if let Some(q) = msg.queries.first_mut() {
        q.set_name(asked);
    }
}
