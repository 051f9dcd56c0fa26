//! *any*: answers a query of type ANY with one HINFO record, as RFC 8482 allows, instead of
//! everything the name has.
//!
//! * [`setup`] reads the directive. Like CoreDNS's, it looks at no arguments.
//! * [`Any`] is the handler: `<qname> 8482 IN HINFO "ANY obsoleted" "See RFC 8482"` for ANY,
//!   anything else to the next plugin. The reply is not authoritative, and the record's class
//!   is IN whatever the question's class, both as in CoreDNS.

use std::sync::Arc;

use plugin_api::proto::rr::rdata::HINFO;
use plugin_api::proto::rr::{RData, Record, RecordType};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};

/// The directive's name.
pub const NAME: &str = "any";

/// The TTL of the HINFO answer: RFC 8482's number, as CoreDNS uses.
pub const TTL: u32 = 8482;

/// Reads `any`. CoreDNS's setup never looks at the directive's arguments, so a Corefile that
/// gives some still loads, here as there.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    while c.next() {
        c.remaining_args();
    }
    Ok(Some(Arc::new(Any)))
}

/// The *any* handler.
#[derive(Debug, Default)]
pub struct Any;

impl Plugin for Any {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, ctx: &Ctx, req: &Arc<Request>, next: Next<'_>) -> Serve {
        if req.qtype() != RecordType::ANY {
            return next.run(ctx, req);
        }
        let mut msg = req.reply();
        let hinfo = HINFO::new("ANY obsoleted".into(), "See RFC 8482".into());
        msg.answers = vec![Record::from_rdata(req.qname(), TTL, RData::HINFO(hinfo))];
        Serve::Ready(Ok(Reply::message(msg, NAME)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::proto::op::ResponseCode;
    use plugin_api::proto::rr::DNSClass;
    use plugin_api::test_util::{self, Case, assert_case, reply_message, rr};
    use plugin_whoami::Whoami;

    fn serve(name: &str, qtype: RecordType) -> plugin_api::proto::op::Message {
        let chain: Vec<Arc<dyn Plugin>> = vec![Arc::new(Any), Arc::new(Whoami)];
        reply_message(test_util::serve(chain, test_util::request(name, qtype)))
    }

    #[test]
    fn any_gets_the_short_hinfo() {
        let case = Case {
            answer: vec![rr("Example.org. 8482 IN HINFO \"ANY obsoleted\" \"See RFC 8482\"")],
            ..Case::new("Example.org.", RecordType::ANY, ResponseCode::NoError)
        };
        let msg = serve("Example.org.", RecordType::ANY);
        assert_case(&case, &msg);
        assert!(!msg.metadata.authoritative, "CoreDNS's reply is not authoritative");
        assert!(msg.additionals.is_empty(), "whoami, after it, was not asked");
        assert_eq!(msg.answers[0].dns_class, DNSClass::IN);
    }

    #[test]
    fn other_types_go_to_the_next_plugin() {
        let msg = serve("example.org.", RecordType::A);
        assert!(msg.answers.is_empty());
        assert_eq!(msg.additionals.len(), 2, "whoami's address and port: {msg:?}");
    }

    #[test]
    fn setup_ignores_arguments_as_coredns_does() {
        assert!(setup(&mut Controller::from_text("any")).unwrap().is_some());
        assert!(setup(&mut Controller::from_text("any extra")).unwrap().is_some());
    }
}
