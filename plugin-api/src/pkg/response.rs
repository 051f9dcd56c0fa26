//! Sorting replies the way CoreDNS's `response` package does: first into a type (NOERROR,
//! NXDOMAIN, NODATA, …), then the type into a class (success, denial, error) that `class` lines
//! select on. [`extended_error`] builds the RFC 8914 option plugins attach to replies they
//! refuse or filter.

use hickory_proto::op::{Edns, Message, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::EdnsOption;

/// EDNS option code of Extended DNS Errors (RFC 8914).
pub const EDE_OPTION: u16 = 15;
/// EDE info code 15, Blocked.
pub const EDE_BLOCKED: u16 = 15;
/// EDE info code 17, Filtered.
pub const EDE_FILTERED: u16 = 17;

/// An OPT with a 4096-octet buffer, DO set and one Extended DNS Error with `info_code` and no
/// text: what miekg/dns's `SetEdns0(4096, true)` plus an `EDNS0_EDE` gives. The server then
/// fits it to the client (its buffer size and DO bit).
pub fn extended_error(info_code: u16) -> Edns {
    extended_error_with_text(info_code, "")
}

/// [`extended_error`] with `text` as the option's EXTRA-TEXT (*template*'s `ederror CODE
/// REASON`).
pub fn extended_error_with_text(info_code: u16, text: &str) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    edns.set_dnssec_ok(true);
    let mut data = info_code.to_be_bytes().to_vec();
    data.extend_from_slice(text.as_bytes());
    edns.options_mut().insert(EdnsOption::Unknown(EDE_OPTION, data));
    edns
}

/// What kind of reply a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A positive answer.
    NoError,
    /// NXDOMAIN.
    NameError,
    /// NOERROR without answers but with a SOA.
    NoData,
    /// A referral.
    Delegation,
    /// NOTIFY, AXFR, IXFR.
    Meta,
    /// UPDATE.
    Update,
    /// SERVFAIL or NOTIMP.
    ServerError,
    /// Anything else, or no reply.
    OtherError,
}

impl Type {
    /// The name CoreDNS gives the type (`log/type` metadata).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoError => "NOERROR",
            Self::NameError => "NXDOMAIN",
            Self::NoData => "NODATA",
            Self::Delegation => "DELEGATION",
            Self::Meta => "META",
            Self::Update => "UPDATE",
            Self::ServerError => "SERVERERROR",
            Self::OtherError => "OTHERERROR",
        }
    }
}

/// The classes a `log` rule can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every reply.
    All,
    /// NOERROR answers and referrals.
    Success,
    /// NXDOMAIN and NODATA.
    Denial,
    /// Everything else.
    Error,
}

impl Class {
    /// Reads `all`, `success`, `denial` or `error`.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "all" => Self::All,
            "success" => Self::Success,
            "denial" => Self::Denial,
            "error" => Self::Error,
            _ => return None,
        })
    }
}

/// What sorting a reply and logging it need to know: the header, the question's type, and
/// what the answer and authority sections hold. Read from a message, or from wire bytes
/// without decoding them ([`crate::pkg::wire::WireReply::facts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The header's flags, opcode and rcode.
    pub metadata: Metadata,
    /// The type of the first question.
    pub qtype: Option<RecordType>,
    /// Records in the answer section.
    pub answers: usize,
    /// True if the authority section holds an SOA.
    pub soa: bool,
    /// NS records in the authority section.
    pub ns: usize,
}

impl Facts {
    /// The facts of `m`.
    pub fn of(m: &Message) -> Self {
        Self {
            metadata: m.metadata,
            qtype: m.queries.first().map(|q| q.query_type()),
            answers: m.answers.len(),
            soa: m.authorities.iter().any(|r| r.record_type() == RecordType::SOA),
            ns: m.authorities.iter().filter(|r| r.record_type() == RecordType::NS).count(),
        }
    }
}

/// The type of `reply` (CoreDNS's `response.Typify`, without its check of expired signatures).
pub fn typify(reply: Option<&Message>) -> Type {
    type_of(reply.map(Facts::of).as_ref())
}

/// [`typify`] from a reply's [`Facts`].
pub fn type_of(reply: Option<&Facts>) -> Type {
    let Some(m) = reply else { return Type::OtherError };
    match m.metadata.op_code {
        OpCode::Update => return Type::Update,
        OpCode::Notify => return Type::Meta,
        _ => {}
    }
    if matches!(m.qtype, Some(RecordType::AXFR | RecordType::IXFR)) {
        return Type::Meta;
    }
    let rcode = m.metadata.response_code;
    if m.answers > 0 {
        return match rcode {
            ResponseCode::NoError => Type::NoError,
            _ => Type::OtherError,
        };
    }
    match rcode {
        ResponseCode::NoError if m.soa => Type::NoData,
        ResponseCode::NXDomain => Type::NameError,
        ResponseCode::ServFail | ResponseCode::NotImp => Type::ServerError,
        ResponseCode::NoError if m.ns > 0 => Type::Delegation,
        ResponseCode::NoError => Type::NoError,
        _ => Type::OtherError,
    }
}

/// The class of a type (CoreDNS's `response.Classify`).
pub fn classify(t: Type) -> Class {
    match t {
        Type::NoError | Type::Delegation => Class::Success,
        Type::NameError | Type::NoData => Class::Denial,
        _ => Class::Error,
    }
}
