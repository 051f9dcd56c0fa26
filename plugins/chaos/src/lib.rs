//! *chaos*: answers `CH TXT` queries for `version.bind`, `version.server`, `authors.bind`,
//! `hostname.bind` and `id.server` (CoreDNS's `plugin/chaos`).
//!
//! * [`setup`] reads `chaos [VERSION] [AUTHORS...]`, with CoreDNS's defaults and trimming.
//! * [`Chaos`] answers in wire form (`ReplyWriter::in_query_class`), as CoreDNS's `SetReply`
//!   writes it: not authoritative, TTL 0, owned by the name as asked. `authors.bind` lists the
//!   authors in a new random order each time. Every other query passes on.

use std::sync::Arc;

use plugin_api::pkg::random;
use plugin_api::pkg::wire::ReplyWriter;
use plugin_api::proto::rr::{DNSClass, RecordType};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};

/// The directive's name.
pub const NAME: &str = "chaos";

/// `authors.bind`'s answer without AUTHORS. CoreDNS lists its maintainers' GitHub handles;
/// ferrodns names its own.
pub const DEFAULT_AUTHORS: &[&str] = &["The ferrodns developers"];

/// Reads `chaos [VERSION] [AUTHORS...]` and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    let (version, authors) = parse(c).map_err(|e| e.in_plugin(NAME))?;
    Ok(Some(Arc::new(Chaos {
        version,
        authors,
        hostname: trim(&plugin_api::pkg::host::name()).to_owned(),
    })))
}

/// The version and authors (CoreDNS's `parse`): the version trimmed to 255 octets when it is the
/// only argument (CoreDNS leaves it whole when authors follow, and the answer cuts it), the
/// authors deduplicated, trimmed and sorted.
fn parse(c: &mut Controller) -> Result<(String, Vec<String>), ConfigError> {
    let defaults = || DEFAULT_AUTHORS.iter().map(|a| (*a).to_owned()).collect();
    if !c.next() {
        return Ok((String::new(), defaults()));
    }
    let args = c.remaining_args();
    let (version, authors) = match args.as_slice() {
        [] => (trim(&format!("CoreDNS-{}", plugin_api::COREDNS_VERSION)).to_owned(), defaults()),
        [version] => (trim(version).to_owned(), defaults()),
        [version, authors @ ..] => {
            let mut list: Vec<String> = authors.iter().map(|a| trim(a).to_owned()).collect();
            list.sort();
            list.dedup();
            (version.clone(), list)
        }
    };
    if c.next_block() {
        return Err(c.err(format!("unknown property '{}'", c.val())));
    }
    Ok((version, authors))
}

/// `s` cut to at most 255 octets (a TXT string's limit), at a character boundary.
fn trim(s: &str) -> &str {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The *chaos* handler.
#[derive(Debug)]
pub struct Chaos {
    version: String,
    authors: Vec<String>,
    hostname: String,
}

impl Plugin for Chaos {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        if req.qclass() != DNSClass::CH || req.qtype() != RecordType::TXT {
            return next.run(ctx, req);
        }
        let answer: &[String] = match req.name() {
            "authors.bind." => &self.authors,
            "version.bind." | "version.server." => std::slice::from_ref(&self.version),
            "hostname.bind." | "id.server." => std::slice::from_ref(&self.hostname),
            _ => return next.run(ctx, req),
        };
        let Some(writer) = ReplyWriter::in_query_class(req) else { return next.run(ctx, req) };
        let mut writer = writer.owned_as_asked().not_authoritative();
        // A random order for the authors, as CoreDNS's `rand.Perm` gives: a Fisher-Yates
        // shuffle of positions on the stack (lists longer than it are rotated instead).
        let mut order = [0u16; 64];
        let n = answer.len();
        if n <= order.len() {
            for (i, slot) in order.iter_mut().enumerate().take(n) {
                *slot = i as u16;
            }
            for i in (1..n).rev() {
                order.swap(i, random::below(i + 1));
            }
            for &i in &order[..n] {
                writer.txt(0, answer[usize::from(i)].as_bytes());
            }
        } else {
            let start = random::below(n);
            for text in answer[start..].iter().chain(&answer[..start]) {
                writer.txt(0, text.as_bytes());
            }
        }
        Serve::Ready(Ok(Reply::Wire { wire: writer.finish(), by: NAME }))
    }
}

#[cfg(test)]
mod tests;
