//! An upstream's reply as *forward* hands it on: in wire form as it came (its OPT taken off,
//! see `plugin_api::pkg::wire::WireReply::from_upstream`), so that neither *forward* nor
//! *cache* nor the server decodes and encodes it again; decoded only when it cannot be walked.

use plugin_api::Reply;
use plugin_api::Request;
use plugin_api::pkg::wire::{WireReply, decode_message};
use plugin_api::proto::op::{Message, ResponseCode};

use crate::NAME;

/// An upstream's reply.
#[derive(Debug, Clone)]
pub enum Relayed {
    /// As it came, less its OPT.
    Wire(WireReply),
    /// Decoded: bytes the walker could not read, or a reply *forward* made itself (FORMERR).
    Message(Message),
}

impl Relayed {
    /// Reads an upstream's reply: walked in place, or decoded when it cannot be. An error, in
    /// CoreDNS's words, when it does not decode either.
    pub fn read(bytes: Vec<u8>, from: &str) -> Result<Self, String> {
        match WireReply::from_upstream(bytes) {
            Ok(wire) => Ok(Self::Wire(wire)),
            Err(bytes) => decode_message(&bytes)
                .map(Self::Message)
                .map_err(|e| format!("dns: unpack reply from {from}: {e}")),
        }
    }

    /// The reply's rcode.
    pub fn rcode(&self) -> ResponseCode {
        match self {
            Self::Wire(w) => w.rcode(),
            Self::Message(m) => m.metadata.response_code,
        }
    }

    /// How many answers it holds.
    pub fn answer_count(&self) -> usize {
        match self {
            Self::Wire(w) => w.answer_count(),
            Self::Message(m) => m.answers.len(),
        }
    }

    /// Whether it answers `req`'s question (name, letter case aside, type and class).
    pub fn answers(&self, req: &Request) -> bool {
        match self {
            Self::Wire(w) => w.answers(req),
            Self::Message(m) => req.answers(m),
        }
    }

    /// Gives it the id `id`.
    pub fn set_id(&mut self, id: u16) {
        match self {
            Self::Wire(w) => w.patch_header(|h| h[..2].copy_from_slice(&id.to_be_bytes())),
            Self::Message(m) => m.metadata.id = id,
        }
    }

    /// Makes it `req`'s: its id, and its question in `req`'s letter case (a shared exchange's
    /// reply handed to another query).
    pub fn readdress(&mut self, req: &Request) {
        match self {
            Self::Wire(w) => w.readdress(req),
            Self::Message(m) => {
                m.metadata.id = req.id();
                if let (Some(q), Some(asked)) = (m.queries.first_mut(), req.question()) {
                    *q = asked.clone();
                }
            }
        }
    }

    /// As the chain's reply.
    pub fn into_reply(self) -> Reply {
        match self {
            Self::Wire(wire) => Reply::Wire { wire, by: NAME },
            Self::Message(m) => Reply::message(m, NAME),
        }
    }
}
