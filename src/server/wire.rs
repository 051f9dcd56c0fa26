//! Bytes in and bytes out: which packets are queries, the replies the server writes itself, and
//! fitting every reply to the client.
//!
//! The acceptance rules are those of miekg/dns, which CoreDNS serves through: a packet shorter
//! than a header, or a response, gets no answer at all (any answer could be used for
//! amplification); an opcode other than QUERY or NOTIFY gets NOTIMP; anything but exactly one
//! question, or more than one answer, one authority or two additional records, gets FORMERR, as
//! does a body that does not decode.

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, DecodeError,
};
use plugin_api::Request;
use plugin_api::request::uncompressed_question_len;

/// What a packet turned out to be.
#[derive(Debug)]
pub enum Decoded {
    /// Not answered at all.
    Drop,
    /// Rejected: this reply goes back as it is.
    Reject(Message),
    /// A query to serve.
    Query(Message),
}

/// Sorts a received packet into dropped, rejected or a query, decoded whole.
pub fn decode(packet: &[u8]) -> Decoded {
    let mut msg = Message::query();
    match decode_into(packet, &mut msg) {
        Accepted::Drop => Decoded::Drop,
        Accepted::Reject(reply) => Decoded::Reject(reply),
        Accepted::Query => {
            // An uncompressed question was stepped over: hickory reads it the same from where it
            // starts.
            if msg.queries.is_empty() {
                let question = packet.get(12..).unwrap_or_default();
                msg.queries.extend(Query::read(&mut BinDecoder::new(question)).ok());
            }
            Decoded::Query(msg)
        }
    }
}

/// What [`decode_into`] made of a packet.
#[derive(Debug)]
pub enum Accepted {
    /// Not answered at all.
    Drop,
    /// Rejected: this reply goes back as it is.
    Reject(Message),
    /// A query to serve, decoded into the message given.
    Query,
}

/// [`decode`], into a message whose vectors are reused: a plain query (one question, at most
/// one additional record, the OPT) is read field by field into `msg`, so that a server
/// decoding into the same message each time allocates nothing for it; any other shape is
/// decoded whole. Either way `msg` ends up what `Message::from_vec` makes of the packet, but
/// for an uncompressed question, which is left out of it for [`Request::rebind`] to read from
/// the bytes ([`decode`] puts it back).
pub fn decode_into(packet: &[u8], msg: &mut Message) -> Accepted {
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
        return Accepted::Drop;
    };
    let meta = &header.metadata;
    if meta.message_type == MessageType::Response {
        return Accepted::Drop;
    }
    if !matches!(meta.op_code, OpCode::Query | OpCode::Notify) {
        return Accepted::Reject(reject(&header, None, ResponseCode::NotImp));
    }
    let counts = &header.counts;
    if counts.queries != 1 || counts.answers > 1 || counts.authorities > 1 || counts.additionals > 2
    {
        return Accepted::Reject(reject(&header, None, ResponseCode::FormErr));
    }
    let decoded = if counts.answers == 0 && counts.authorities == 0 && counts.additionals <= 1 {
        read_plain(packet, &header, msg)
    } else {
        Message::from_vec(packet).map(|whole| *msg = whole)
    };
    match decoded {
        Ok(()) => Accepted::Query,
        Err(_) => {
            // Echo the question if it at least decodes, as miekg/dns does.
            let mut d = BinDecoder::new(packet);
            let question = Header::read(&mut d).ok().and_then(|_| Query::read(&mut d).ok());
            Accepted::Reject(reject(&header, question, ResponseCode::FormErr))
        }
    }
}

/// Reads a query of one question and at most one additional record into `msg`, as
/// `Message::read` would, keeping `msg`'s vectors; except that an uncompressed question (see
/// `uncompressed_question_len`) is only stepped over: the `Request` reads it from the bytes,
/// without building hickory's `Name`. `header` is the packet's, already read.
fn read_plain(packet: &[u8], header: &Header, msg: &mut Message) -> Result<(), DecodeError> {
    let mut d = BinDecoder::new(packet);
    d.read_slice(12)?;
    let (mut metadata, counts) = (header.metadata, &header.counts);
    let query = match packet.get(12..).and_then(uncompressed_question_len) {
        Some(len) => {
            d.read_slice(len + 4)?;
            None
        }
        None => Some(Query::read(&mut d)?),
    };
    let (additionals, edns, signature) = match counts.additionals {
        0 => (Vec::new(), None, None),
        n => Message::read_records(&mut d, usize::from(n), true, metadata.op_code)?,
    };
    if let Some(edns) = &edns {
        metadata.merge_response_code(edns.rcode_high());
    }
    msg.metadata = metadata;
    msg.queries.clear();
    msg.queries.extend(query);
    msg.answers.clear();
    msg.authorities.clear();
    (msg.additionals, msg.edns, msg.signature) = (additionals, edns, signature);
    Ok(())
}

/// A rejection: the request's header flags with QR set, AA cleared, the given rcode, no records.
fn reject(header: &Header, question: Option<Query>, rcode: ResponseCode) -> Message {
    let req = &header.metadata;
    // FORMERR replies say QUERY; NOTIMP keeps the opcode the client sent.
    let op = if rcode == ResponseCode::NotImp { req.op_code } else { OpCode::Query };
    let mut m = Message::new(req.id, MessageType::Response, op);
    m.metadata.recursion_desired = req.recursion_desired;
    m.metadata.recursion_available = req.recursion_available;
    m.metadata.truncation = req.truncation;
    m.metadata.authentic_data = req.authentic_data;
    m.metadata.checking_disabled = req.checking_disabled;
    m.metadata.response_code = rcode;
    if let Some(q) = question {
        m.add_query(q);
    }
    m
}

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

/// EDNS options CoreDNS copies from a query into the OPT of a reply it writes (NSID, EXPIRE,
/// COOKIE, TCP-KEEPALIVE, PADDING).
const ECHOED_OPTIONS: [u16; 5] = [3, 9, 10, 11, 12];

/// Makes `reply`'s OPT match the request, as CoreDNS's `SizeAndDo` does for every reply: when
/// the request had EDNS, the reply carries an OPT (its own, or the request's with only the echoed
/// options) with version 0, the client's buffer size and the client's DO bit.
pub fn size_and_do(req: &Request, reply: &mut Message) {
    let Some(req_edns) = req.edns() else { return };
    let mut edns = reply.edns.take().unwrap_or_else(|| {
        let mut e = Edns::new();
        e.options_mut().options.extend(echoed(req).map(|(code, option)| (*code, option.clone())));
        e
    });
    edns.set_version(0);
    edns.set_max_payload(req_edns.max_payload());
    *edns.flags_mut() = Default::default();
    edns.set_dnssec_ok(req_edns.flags().dnssec_ok);
    reply.edns = Some(edns);
}

/// The options of the request's OPT that a reply's OPT echoes.
fn echoed(req: &Request) -> impl Iterator<Item = (&EdnsCode, &EdnsOption)> {
    let options = req.edns().map(|e| e.options().options.as_slice());
    options
        .unwrap_or_default()
        .iter()
        .filter(|(code, _)| ECHOED_OPTIONS.contains(&u16::from(*code)))
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
    reply.extend_from_slice(&req_edns.max_payload().to_be_bytes());
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
