//! The names of an upstream's reply checked before it is relayed as bytes: every compression
//! pointer, wherever a decoder would follow one, must lead to where a label of a name read
//! before starts.
//!
//! A relayed reply is patched for each client: the id and flags in the header, every TTL, the
//! question's letter case, and the order of address records' data. A name whose pointer leads
//! into any of those would decode differently once served than the upstream sent it; a
//! pointer into the middle of a label, to the name itself, or spelling more than 255 octets
//! makes the reply one no decoder reads as the upstream meant. RFC 1035 §4.1.4 has a pointer
//! lead to "a prior occurance of the same name", which is what every server writes; anything
//! else is left to the decoder (`Err` from `WireReply::from_upstream`), which reads the reply
//! into a message or refuses it, and the client gets what that gives, as with CoreDNS.
//!
//! Names are read in the question, in every record's owner, and in the record data of every
//! type whose names decoders decompress: RFC 1035's and the others RFC 3597 §4 lists (RP,
//! AFSDB, RT, SIG, PX, NXT, NAPTR, SRV), and the later types with a name in their data (KX, A6,
//! DNAME, IPSECKEY, RRSIG, NSEC, HIP, TALINK, SVCB, HTTPS, LP, AMTRELAY, TKEY, TSIG). Their
//! data must hold what the type says around those names, so that a decoder finds them where
//! they were read.

use std::cell::Cell;

use super::{HEADER, SPARE_LIMIT};

thread_local! {
    /// The table of the reply this thread checked last, kept so that checking the next one
    /// allocates nothing.
    static TABLE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// For each offset of a reply, how many octets the name spells from a label of a name read
/// there to its end (1 to 255), or 0 where no such label starts: where a pointer may lead.
pub(super) struct Suffixes(Vec<u8>);

impl Suffixes {
    /// Runs `check` with a table for the reply `b`, this thread's kept one cleared to its size.
    pub(super) fn with<T>(b: &[u8], check: impl FnOnce(&mut Self) -> T) -> T {
        let mut table = TABLE.take();
        table.clear();
        table.resize(b.len(), 0);
        let mut suffixes = Self(table);
        let out = check(&mut suffixes);
        // A table for a large TCP reply is let go rather than held for good.
        if suffixes.0.capacity() <= SPARE_LIMIT {
            TABLE.set(suffixes.0);
        }
        out
    }

    /// The name at `at`, which must end by `limit`: labels, then the root or a pointer to where
    /// a label of a name read before starts, 255 octets at most in all. Returns where it ends,
    /// having marked where its labels start.
    pub(super) fn name(&mut self, b: &[u8], at: usize, limit: usize) -> Option<usize> {
        let mut end = at;
        // The octets the name spells past its own labels, and the octets that say so: the
        // root, or a pointer.
        let (tail, ending) = loop {
            let len = *b.get(end)?;
            match len {
                0 => break (1, 1),
                1..=63 => end += 1 + usize::from(len),
                0xc0..=0xff => {
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, *b.get(end + 1)?]));
                    // Never marked yet: the header, a name's own labels, anything after it.
                    let spelled = *self.0.get(target).filter(|&&n| n > 0)?;
                    break (usize::from(spelled), 2);
                }
                // Extended and reserved label types (RFC 6891 §5).
                _ => return None,
            }
            if end - at > 255 {
                return None;
            }
        };
        let labels_end = end;
        let end = end + ending;
        let mut left = labels_end - at + tail;
        if end > limit || left > 255 {
            return None;
        }
        let mut label = at;
        while label < labels_end {
            self.0[label] = left as u8;
            let step = 1 + usize::from(b[label]);
            (label, left) = (label + step, left - step);
        }
        Some(end)
    }

    /// Reads the names in the data of a record of type `rtype`, `b[at..end]`, where its type
    /// puts them; `None` if one is not a good name or the data is not what the type says.
    pub(super) fn record_data(
        &mut self,
        b: &[u8],
        rtype: u16,
        at: usize,
        end: usize,
    ) -> Option<()> {
        names_in_data(b, rtype, at, end, |name, _| self.name(b, name, end))
    }
}

/// Goes through the names in the data of a record of type `rtype`, `b[at..end]`, where its
/// type puts them: `read(offset, index)` reads the record's `index`th name, at `offset`, and
/// says where it ends (`None` to give up). `None` if `read` gave up or the data is not what
/// the type says around its names; `Some` at once for a type without names in its data.
///
/// The one list of where each type keeps its names: this module checks them, and
/// `WireReply::restore_question` judges them.
pub(super) fn names_in_data(
    b: &[u8],
    rtype: u16,
    at: usize,
    end: usize,
    mut read: impl FnMut(usize, usize) -> Option<usize>,
) -> Option<()> {
    let data = b.get(at..end)?;
    let (first, names, rest) = match rtype {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME: a name.
        2..=5 | 7..=9 | 12 | 39 => (at, 1, Rest::Nothing),
        // SOA: two names and five 32-bit numbers.
        6 => (at, 2, Rest::Exactly(20)),
        // MINFO, RP, TALINK: two names.
        14 | 17 | 58 => (at, 2, Rest::Nothing),
        // MX, AFSDB, RT, KX, LP: a 16-bit number and a name.
        15 | 18 | 21 | 36 | 107 => (at + 2, 1, Rest::Nothing),
        // PX: a 16-bit number and two names.
        26 => (at + 2, 2, Rest::Nothing),
        // SRV: priority, weight, port, target.
        33 => (at + 6, 1, Rest::Nothing),
        // NAPTR: order, preference, three strings, replacement.
        35 => (strings_end(data, 4, 3)? + at, 1, Rest::Nothing),
        // A6: a prefix length, the address's suffix, the prefix's name if the length is not 0.
        38 => {
            let prefix = usize::from(*data.first()?);
            let name_at = at + 1 + (128usize.checked_sub(prefix)?).div_ceil(8);
            (name_at, usize::from(prefix > 0), Rest::Nothing)
        }
        // SIG, RRSIG: 18 octets of fields, the signer, the signature.
        24 | 46 => (at + 18, 1, Rest::Any),
        // NXT, NSEC, TKEY, TSIG: a name first, then fields.
        30 | 47 | 249 | 250 => (at, 1, Rest::Any),
        // IPSECKEY: precedence, gateway type, algorithm, a gateway that is a name if its type
        // is 3, the key.
        45 if data.get(1) == Some(&3) => (at + 3, 1, Rest::Any),
        // HIP: lengths, the HIT and the key, then rendezvous servers to the end.
        55 => {
            let hit = usize::from(*data.first()?);
            let key = usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?]));
            let mut name = at + 4 + hit + key;
            let mut index = 0;
            while name < end {
                name = read(name, index)?;
                index += 1;
            }
            return (name == end).then_some(());
        }
        // SVCB, HTTPS: a priority, the target, the parameters.
        64 | 65 => (at + 2, 1, Rest::Any),
        // AMTRELAY: precedence, type, a relay that is a name if the type is 3.
        260 if data.get(1).is_some_and(|t| t & 0x7f == 3) => (at + 2, 1, Rest::Nothing),
        _ => return Some(()),
    };
    let mut name_end = first;
    for index in 0..names {
        // A name must start inside the data (`read` bounds where it ends).
        if name_end >= end {
            return None;
        }
        name_end = read(name_end, index)?;
    }
    match rest {
        Rest::Nothing => (name_end == end).then_some(()),
        Rest::Exactly(n) => (name_end + n == end).then_some(()),
        Rest::Any => (name_end <= end).then_some(()),
    }
}

/// What a type's record data holds after its names.
enum Rest {
    Nothing,
    Exactly(usize),
    Any,
}

/// The offset in `data` just past `count` character strings that start at `at`.
fn strings_end(data: &[u8], mut at: usize, count: usize) -> Option<usize> {
    for _ in 0..count {
        at += 1 + usize::from(*data.get(at)?);
    }
    (at <= data.len()).then_some(at)
}

/// Where the question section of `b` ends, its names read into `suffixes`.
pub(super) fn question_end(b: &[u8], suffixes: &mut Suffixes) -> Option<usize> {
    let mut at = HEADER;
    for _ in 0..u16::from_be_bytes([*b.get(4)?, *b.get(5)?]) {
        at = suffixes.name(b, at, b.len())? + 4;
    }
    (at <= b.len()).then_some(at)
}

#[cfg(test)]
#[path = "pointers_tests.rs"]
mod tests;
