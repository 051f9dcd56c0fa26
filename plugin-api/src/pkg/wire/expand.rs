//! Messages decoded from the wire with the names inside opaque record data written out in full.
//!
//! hickory-proto decodes the data of the types it knows. The others (RFC 1035's MD, MF, MB,
//! MG, MR and MINFO, and RP, AFSDB, RT, PX, KX, DNAME, RRSIG, NSEC, ... in this build) become
//! `RData::Unknown`, their octets kept as they came, and written back as they came. A name in
//! such data may be compressed: RFC 1035 lets a server compress every name of its own types,
//! and RFC 3597 §4 has receivers decompress several later ones, because servers did. A
//! compression pointer is an offset into the message it came in, so once the record is
//! encoded into any other layout (a reply truncated for its client, a decoded upstream reply
//! relayed, a transferred zone served) the pointer leads somewhere else: another name, or
//! none, and the client reads what the upstream never sent.
//!
//! [`decode_message`] is the decoder for bytes from outside: after hickory, it rewrites each
//! such record's data with its names written out, where `pointers::names_in_data` says the
//! type keeps them. A message with no opaque record that holds names costs one look at its
//! records and nothing more.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::DecodeError;

use super::pointers::names_in_data;
use super::{HEADER, record_at, section_count, skip_name, skip_question, type_code};

/// The largest name, in octets (RFC 1035 §2.3.4).
const NAME_LIMIT: usize = 255;

/// The OPT and TSIG types: hickory takes them out of the additional section.
const TAKEN_OUT: [u16; 2] = [41, 250];

/// Decodes `bytes` as hickory does, then writes out the compressed names in the data of
/// records hickory keeps as opaque octets, so that the message encodes into any layout as it
/// reads here. A record whose names cannot be read is left as hickory made it.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut msg = Message::from_vec(bytes)?;
    let records = msg.answers.iter().chain(&msg.authorities).chain(&msg.additionals);
    if records.into_iter().any(|r| opaque_names(r).is_some()) {
        write_out_names(bytes, &mut msg);
    }
    Ok(msg)
}

/// The type code of `record` if hickory kept its data as octets and its type has names there.
fn opaque_names(record: &Record) -> Option<u16> {
    let RData::Unknown { code, rdata } = &record.data else { return None };
    let code = u16::from(*code);
    let data = &rdata.anything;
    let mut names = false;
    // Asked to read a name, the walker has found one where the type keeps it.
    let _ = names_in_data(data, code, 0, data.len(), |_, _| {
        names = true;
        None
    });
    names.then_some(code)
}

/// Walks `bytes` record by record beside `msg`'s sections and replaces the data of each opaque
/// record with names by the same data with its names written out.
fn write_out_names(bytes: &[u8], msg: &mut Message) {
    let Some(mut at) = skip_question(bytes) else { return };
    let sections = [&mut msg.answers, &mut msg.authorities, &mut msg.additionals];
    for (section, records) in sections.into_iter().enumerate() {
        let mut index = 0;
        for _ in 0..section_count(bytes, section) {
            let Some(rr) = skip_name(bytes, at).and_then(|end| record_at(bytes, end)) else {
                return;
            };
            let code = type_code(bytes, &rr);
            at = rr.end;
            if section == 2 && TAKEN_OUT.contains(&code) {
                continue;
            }
            let Some(record) = records.get_mut(index) else { return };
            index += 1;
            if opaque_names(record) != Some(code) {
                continue;
            }
            if let Some(data) = written_out(bytes, code, rr.owner_end + 10, rr.end)
                && let RData::Unknown { rdata, .. } = &mut record.data
            {
                *rdata = NULL::with(data);
            }
        }
    }
}

/// The data of a record of type `code`, `b[at..end]`, with every name in it written out;
/// `None` if it has no compressed name, one cannot be read, or the whole would be too long.
fn written_out(b: &[u8], code: u16, at: usize, end: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(end - at + 2 * NAME_LIMIT);
    let (mut copied, mut compressed) = (at, false);
    names_in_data(b, code, at, end, |name_at, _| {
        out.extend_from_slice(&b[copied..name_at]);
        let (name_end, pointer) = write_name(b, name_at, end, &mut out)?;
        compressed |= pointer;
        copied = name_end;
        Some(name_end)
    })?;
    out.extend_from_slice(&b[copied..end]);
    // Written out, the data must still fit its 16-bit length (a HIP record of many pointers).
    (compressed && out.len() <= usize::from(u16::MAX)).then_some(out)
}

/// Appends the name at `at` to `out` in full, following its pointers, and returns where it
/// ends in place (at most `limit`) and whether it had a pointer. Each pointer must lead back,
/// to before itself, so that reading ends; the name must spell [`NAME_LIMIT`] octets at most.
fn write_name(b: &[u8], mut at: usize, limit: usize, out: &mut Vec<u8>) -> Option<(usize, bool)> {
    let mut in_place_end = None;
    let mut spelt = 0;
    loop {
        let len = usize::from(*b.get(at)?);
        match len & 0xc0 {
            0x00 => {
                let label = b.get(at..at + 1 + len)?;
                spelt += label.len();
                if spelt > NAME_LIMIT {
                    return None;
                }
                out.extend_from_slice(label);
                at += 1 + len;
                if len == 0 {
                    break;
                }
            }
            0xc0 => {
                let target = ((len & 0x3f) << 8) | usize::from(*b.get(at + 1)?);
                in_place_end.get_or_insert(at + 2);
                if !(HEADER..at).contains(&target) {
                    return None;
                }
                at = target;
            }
            _ => return None,
        }
    }
    let end = in_place_end.unwrap_or(at);
    (end <= limit).then_some((end, in_place_end.is_some()))
}

#[cfg(test)]
#[path = "expand_tests.rs"]
mod tests;
