//! Which packets are queries, by miekg/dns's rules, which CoreDNS serves through: a packet
//! shorter than a header, or a response, gets no answer at all (any answer could be used for
//! amplification); an opcode other than QUERY or NOTIFY gets NOTIMP; anything but exactly one
//! question, or more than one answer, one authority or two additional records, gets FORMERR, as
//! does a body that does not decode.

use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::op::{
    Edns, EdnsFlags, Header, Message, MessageType, OpCode, Query, ResponseCode,
};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

use crate::request::uncompressed_question_len;
use crate::{Proto, Request};

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

/// What [`read_query`] made of a packet.
#[derive(Debug)]
pub enum Accepted {
    /// Not answered at all.
    Drop,
    /// Rejected: this reply goes back as it is.
    Reject(Message),
    /// A query to serve, decoded into the message given.
    Query,
}

/// Reads `packet`, received from `src` at `local` at `received`, into `req`, reusing its
/// buffers, if it is a query; else says how to reject it, leaving `req` as it was.
///
/// This is the one place where the rule "the question is read from the bytes" lives: a plain
/// query (one question, at most one additional record, the OPT) is read field by field into the
/// request's message, so that a server reading into the same request each time allocates
/// nothing; an uncompressed question is only stepped over there, and the request reads it from
/// the packet (its name lower-cased once, its wire form kept), without building hickory's
/// `Name`. Any other shape is decoded whole. Either way the request then holds what
/// `Message::from_vec` makes of the packet.
pub fn read_query(
    req: &mut Request,
    packet: &[u8],
    src: SocketAddr,
    local: SocketAddr,
    proto: Proto,
    received: Instant,
) -> Accepted {
    let accepted = decode_into(packet, req.message_mut());
    if let Accepted::Query = accepted {
        req.rebind(packet, src, local, proto, received);
    }
    accepted
}

/// [`read_query`]'s reading of the message: `msg` ends up what `Message::from_vec` makes of the
/// packet, but for an uncompressed question, which is left out of it to be read from the
/// bytes ([`decode`] puts it back, [`Request`] reads it).
fn decode_into(packet: &[u8], msg: &mut Message) -> Accepted {
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
        crate::pkg::wire::decode_message(packet).map(|whole| *msg = whole)
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
    let rest = packet.get(packet.len() - d.len()..).unwrap_or_default();
    let (additionals, edns, signature) = match (counts.additionals, bare_opt(rest)) {
        (0, _) => (Vec::new(), None, None),
        // The commonest additional section, read without hickory's record vector.
        (1, Some(edns)) => (Vec::new(), Some(edns), None),
        (n, _) => Message::read_records(&mut d, usize::from(n), true, metadata.op_code)?,
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

/// `rest` as an OPT record without options and nothing after it (what `dig` and most resolvers
/// send), read as hickory reads one: buffer size at least 512, extended rcode, version, flags.
fn bare_opt(rest: &[u8]) -> Option<Edns> {
    let &[0, 0, 41, size_hi, size_lo, rcode_high, version, flags_hi, flags_lo, 0, 0] = rest else {
        return None;
    };
    let mut edns = Edns::new();
    edns.set_max_payload(u16::from_be_bytes([size_hi, size_lo]));
    edns.set_rcode_high(rcode_high);
    edns.set_version(version);
    *edns.flags_mut() = EdnsFlags::from(u16::from_be_bytes([flags_hi, flags_lo]));
    Some(edns)
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

#[cfg(test)]
mod tests;
