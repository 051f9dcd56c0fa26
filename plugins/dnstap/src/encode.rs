//! A tap's message as one Frame Streams data frame, written straight into the batch's frames.
//!
//! The `Dnstap` envelope's fields that never change for a line (identity, version, extra, the
//! type MESSAGE) are encoded once, at setup ([`envelope`]). The `Message` is written field by
//! field in the schema's tags (see [`pb::Message`]) by one function, [`message`], run twice:
//! first into a [`Len`], which only adds up sizes, then into the frames. So the frame's and
//! the message's lengths are known before their bytes, and nothing is written twice: no
//! scratch buffer to copy from, no length patched in afterwards.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use plugin_api::pkg::dnstap::{self as tap, Kind, Transport};
use prost::encoding::{WireType, encoded_len_varint, key_len};

use crate::{fstrm, pb};

/// Where protobuf fields go: a buffer, or a count of their size.
pub trait Out {
    /// A varint field (uint32, uint64, an enum).
    fn varint(&mut self, tag: u32, value: u64);
    /// A fixed32 field.
    fn fixed32(&mut self, tag: u32, value: u32);
    /// A length-delimited field (bytes, or an embedded message).
    fn bytes(&mut self, tag: u32, value: &[u8]);
}

// Inlined, as perf found `put_varint` a call of its own per field (1.1 % of the server).
impl Out for Vec<u8> {
    #[inline]
    fn varint(&mut self, tag: u32, value: u64) {
        put_varint(self, key(tag, WireType::Varint));
        put_varint(self, value);
    }
    #[inline]
    fn fixed32(&mut self, tag: u32, value: u32) {
        put_varint(self, key(tag, WireType::ThirtyTwoBit));
        self.extend_from_slice(&value.to_le_bytes());
    }
    #[inline]
    fn bytes(&mut self, tag: u32, value: &[u8]) {
        put_varint(self, key(tag, WireType::LengthDelimited));
        put_varint(self, value.len() as u64);
        self.extend_from_slice(value);
    }
}

/// A field's key: its tag and wire type, as prost's `encode_key` writes them.
#[inline]
fn key(tag: u32, wire_type: WireType) -> u64 {
    u64::from(tag << 3 | wire_type as u32)
}

/// Appends `value` as a protobuf varint: the same octets as prost's `encode_varint`, which
/// pushes them one at a time through `BufMut` (a capacity check each, and a call per field
/// that perf put at over 1 % of a server with a `full` tap); here they are gathered on the
/// stack and appended once.
#[inline]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    let mut octets = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        octets[n] = value as u8 | 0x80;
        value >>= 7;
        n += 1;
    }
    octets[n] = value as u8;
    out.extend_from_slice(&octets[..=n]);
}

/// The size the fields would take.
#[derive(Default)]
pub struct Len(pub usize);

impl Out for Len {
    fn varint(&mut self, tag: u32, value: u64) {
        self.0 += key_len(tag) + encoded_len_varint(value);
    }
    fn fixed32(&mut self, tag: u32, _: u32) {
        self.0 += key_len(tag) + 4;
    }
    fn bytes(&mut self, tag: u32, value: &[u8]) {
        self.0 += key_len(tag) + encoded_len_varint(value.len() as u64) + value.len();
    }
}

/// The envelope's constant fields for a line: identity, version, extra if given, type MESSAGE.
pub fn envelope(identity: &[u8], version: &[u8], extra: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.bytes(1, identity);
    out.bytes(2, version);
    if let Some(extra) = extra {
        out.bytes(3, extra);
    }
    out.varint(15, pb::DnstapType::Message as u64);
    out
}

/// The envelope's tag for its `Message`.
const MESSAGE_TAG: u32 = 14;

/// Appends one data frame to `out`: the frame's length, the line's `envelope`, and `m` as
/// its `Message` (with the wire messages only when `full`).
pub fn frame(envelope: &[u8], m: &tap::Message<'_>, full: bool, out: &mut Vec<u8>) {
    let mut len = Len::default();
    message(m, full, &mut len);
    let body = len.0;
    let frame = envelope.len() + key_len(MESSAGE_TAG) + encoded_len_varint(body as u64) + body;
    out.reserve(4 + frame);
    let start = out.len();
    fstrm::begin_data_frame(frame, out);
    out.extend_from_slice(envelope);
    put_varint(out, key(MESSAGE_TAG, WireType::LengthDelimited));
    put_varint(out, body as u64);
    message(m, full, out);
    debug_assert_eq!(out.len() - start, 4 + frame, "the frame is as long as counted");
}

/// dnstap's `Message` for `m`, field by field in the schema's tags.
pub fn message(m: &tap::Message<'_>, full: bool, out: &mut impl Out) {
    let kind = match m.kind {
        Kind::ClientQuery => pb::MessageType::ClientQuery,
        Kind::ClientResponse => pb::MessageType::ClientResponse,
        Kind::ForwarderQuery => pb::MessageType::ForwarderQuery,
        Kind::ForwarderResponse => pb::MessageType::ForwarderResponse,
    };
    out.varint(1, kind as u64);
    if let Some(a) = m.query_address.or(m.response_address) {
        out.varint(2, family_of(a.ip()) as u64);
    }
    let protocol = match m.transport {
        Transport::Udp => pb::SocketProtocol::Udp,
        Transport::Tcp => pb::SocketProtocol::Tcp,
        Transport::Tls => pb::SocketProtocol::Dot,
    };
    out.varint(3, protocol as u64);
    let mut octets = [0u8; 16];
    if let Some(a) = m.query_address {
        out.bytes(4, address_octets(a.ip(), &mut octets));
    }
    if let Some(a) = m.response_address {
        out.bytes(5, address_octets(a.ip(), &mut octets));
    }
    let port = |a: Option<SocketAddr>| a.map(|a| u64::from(a.port()));
    if let Some(p) = port(m.query_address) {
        out.varint(6, p);
    }
    if let Some(p) = port(m.response_address) {
        out.varint(7, p);
    }
    let since = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let query_time = since(m.query_time);
    out.varint(8, query_time.as_secs());
    out.fixed32(9, query_time.subsec_nanos());
    if let (true, Some(query)) = (full, m.query) {
        out.bytes(10, query);
    }
    if let Some(t) = m.response_time.map(since) {
        out.varint(12, t.as_secs());
        out.fixed32(13, t.subsec_nanos());
    }
    if let (true, Some(response)) = (full, m.response) {
        out.bytes(14, response);
    }
}

/// IPv4 (an IPv4-mapped IPv6 address counts as IPv4, as Go's `To4` sees it) or IPv6.
fn family_of(ip: IpAddr) -> pb::SocketFamily {
    match ip {
        IpAddr::V4(_) => pb::SocketFamily::Inet,
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => pb::SocketFamily::Inet,
        IpAddr::V6(_) => pb::SocketFamily::Inet6,
    }
}

/// 4 octets for IPv4 (mapped ones included), 16 for IPv6, written into `room`.
fn address_octets(ip: IpAddr, room: &mut [u8; 16]) -> &[u8] {
    match ip {
        IpAddr::V4(v4) => {
            room[..4].copy_from_slice(&v4.octets());
            &room[..4]
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                room[..4].copy_from_slice(&v4.octets());
                &room[..4]
            }
            None => {
                *room = v6.octets();
                &room[..]
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written varint and key give prost's octets, at every length a varint has.
    #[test]
    fn varints_and_keys_are_prosts() {
        let mut values = vec![0, 1, 0x7f, 0x80, 300, 0x3fff, 0x4000, u64::from(u32::MAX), u64::MAX];
        values.extend((0..64).map(|shift| 1u64 << shift));
        values.extend((1..64).map(|shift| (1u64 << shift) - 1));
        for value in values {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_varint(&mut ours, value);
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value:#x}");
            assert_eq!(ours.len(), encoded_len_varint(value), "{value:#x}");
        }
        for tag in [1, 14, 15, 16, 2047, 2048, (1 << 29) - 1] {
            for wire_type in [WireType::Varint, WireType::ThirtyTwoBit, WireType::LengthDelimited] {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                put_varint(&mut ours, key(tag, wire_type));
                prost::encoding::encode_key(tag, wire_type, &mut theirs);
                assert_eq!(ours, theirs, "tag {tag}");
            }
        }
    }
}
