//! Bytes out: the replies the server writes itself, and fitting every reply to the client.
//! Which packets are queries, and reading them, is `plugin_api::server::decode`: the request
//! type it fills lives there.

use hickory_proto::op::{Edns, Header, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use plugin_api::Request;
use plugin_api::pkg::edns::is_supported_option;

/// The reply the server writes itself when nothing else answers: the request's id, opcode,
/// flags and question, with `rcode` (CoreDNS's `errorFunc`).
pub fn error_reply(req: &Request, rcode: ResponseCode) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = rcode;
    m
}

/// The reply to an EDNS version other than 0: BADVERS with an OPT of version 0, before any
/// plugin runs (RFC 6891 §6.1.3).
pub fn badvers_reply(req: &Request) -> Message {
    let mut m = req.reply();
    m.metadata.response_code = ResponseCode::BADVERS;
    let mut edns = Edns::new();
    edns.set_version(0);
    m.edns = Some(edns);
    m
}

/// Makes `reply`'s OPT match the request, as CoreDNS's `SizeAndDo` does for every reply: when
/// the request had EDNS, the reply carries an OPT (its own, or the request's with only the echoed
/// options) with version 0, the client's buffer size (as *bufsize* capped it) and DO bit.
pub fn size_and_do(req: &Request, reply: &mut Message) {
    let Some(req_edns) = req.edns() else { return };
    let mut edns = reply.edns.take().unwrap_or_else(|| {
        let mut e = Edns::new();
        e.options_mut().options.extend(echoed(req).map(|(code, option)| (*code, option.clone())));
        e
    });
    edns.set_version(0);
    edns.set_max_payload(req.max_payload().unwrap_or(req_edns.max_payload()));
    *edns.flags_mut() = Default::default();
    edns.set_dnssec_ok(req_edns.flags().dnssec_ok);
    reply.edns = Some(edns);
}

/// The options of the request's OPT that a reply's OPT echoes: the ones `pkg::edns` lists as
/// supported.
fn echoed(req: &Request) -> impl Iterator<Item = (&EdnsCode, &EdnsOption)> {
    let options = req.edns().map(|e| e.options().options.as_slice());
    options
        .unwrap_or_default()
        .iter()
        .filter(|(code, _)| is_supported_option(u16::from(*code)))
        .map(|(code, option)| (code, option))
}

/// The octets the echoed options take in an OPT's data: code, length and value each.
fn echoed_len(req: &Request) -> usize {
    echoed(req).map(|(_, o)| 4 + usize::from(o.len())).sum()
}

/// The octets [`append_opt`] adds for `req`: none without EDNS.
pub fn opt_len_for(req: &Request) -> usize {
    if req.edns().is_none() {
        return 0;
    }
    11 + echoed_len(req)
}

/// Appends to an encoded reply without an OPT the OPT [`size_and_do`] would give it: version
/// 0, the client's buffer size and DO bit, the echoed options; and counts it in ARCOUNT. Does
/// nothing when the request had no EDNS.
pub fn append_opt(reply: &mut Vec<u8>, req: &Request) {
    let Some(req_edns) = req.edns() else { return };
    let arcount = u16::from_be_bytes([reply[10], reply[11]]);
    let Some(arcount) = arcount.checked_add(1) else { return };
    reply[10..12].copy_from_slice(&arcount.to_be_bytes());
    let flags: u16 = if req_edns.flags().dnssec_ok { 0x8000 } else { 0 };
    let rdlen = echoed_len(req);
    reply.push(0); // the root
    reply.extend_from_slice(&41u16.to_be_bytes());
    let size = req.max_payload().unwrap_or(req_edns.max_payload());
    reply.extend_from_slice(&size.to_be_bytes());
    reply.extend_from_slice(&[0, 0]); // extended rcode, version 0
    reply.extend_from_slice(&flags.to_be_bytes());
    reply.extend_from_slice(&(rdlen as u16).to_be_bytes());
    for (code, option) in echoed(req) {
        reply.extend_from_slice(&u16::from(*code).to_be_bytes());
        reply.extend_from_slice(&option.len().to_be_bytes());
        if let Ok(data) = option.to_bytes() {
            reply.extend_from_slice(&data);
        }
    }
}

/// The octets an OPT record takes: root name, type, class, TTL, rdlength, and the options.
fn opt_len(edns: &Edns) -> usize {
    11 + edns
        .options()
        .options
        .iter()
        .map(|(_, o): &(EdnsCode, EdnsOption)| 4 + usize::from(o.len()))
        .sum::<usize>()
}

/// Encodes `msg` into `out` so that it fits in `limit` octets. A reply that is too large keeps
/// the longest prefix of each section that fits, with room kept for the OPT record, and gets the
/// TC bit (miekg/dns `Truncate`, which CoreDNS's scrub writer uses).
pub fn encode_fitting(msg: &mut Message, limit: u16, out: &mut Vec<u8>) -> Result<(), String> {
    let header = emit_limited(msg, true, limit, out)?;
    let c = &header.counts;
    let opt = usize::from(msg.edns.is_some());
    let complete = usize::from(c.answers) == msg.answers.len()
        && usize::from(c.authorities) == msg.authorities.len()
        && usize::from(c.additionals) == msg.additionals.len() + opt;
    if complete {
        return Ok(());
    }

    // Too large. Find how many records of each section fit when the OPT's room is kept free.
    let reserve = msg.edns.as_ref().map_or(0, opt_len);
    let budget = u16::try_from(usize::from(limit).saturating_sub(reserve)).unwrap_or(limit);
    let counts = emit_limited(msg, false, budget, out)?.counts;
    msg.answers.truncate(usize::from(counts.answers));
    msg.authorities.truncate(usize::from(counts.authorities));
    msg.additionals.truncate(usize::from(counts.additionals));
    msg.metadata.truncation = true;
    out.clear();
    let mut enc = BinEncoder::new(out);
    enc.set_max_size(limit);
    msg.emit(&mut enc).map_err(|e| e.to_string())
}

/// Encodes `msg` into `out` (cleared first) with at most `limit` octets, with or without its
/// OPT record; sections are cut where they stop fitting. Returns the header as written.
fn emit_limited(
    msg: &Message,
    with_opt: bool,
    limit: u16,
    out: &mut Vec<u8>,
) -> Result<Header, String> {
    out.clear();
    let mut enc = BinEncoder::new(out);
    enc.set_max_size(limit);
    hickory_proto::op::emit_message_parts(
        &msg.metadata,
        &mut msg.queries.iter(),
        &mut msg.answers.iter(),
        &mut msg.authorities.iter(),
        &mut msg.additionals.iter(),
        if with_opt { msg.edns.as_ref() } else { None },
        None,
        &mut enc,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
