//! *whoami*: answers every query with the client's address, port and transport.
//!
//! * [`setup`] reads the directive (it takes no arguments).
//! * [`Whoami`] is the handler: an authoritative reply with an empty answer section and, in the
//!   additional section, an A or AAAA record of the client's address owned by the query name and
//!   an SRV record `_<proto>.<qname>` whose port is the client's, all with TTL 0.
//!
//! It is the plugin CoreDNS serves when there is no Corefile (`.:53 { whoami log }`).

use std::sync::Arc;

use plugin_api::proto::rr::rdata::{A, AAAA, SRV};
use plugin_api::proto::rr::{Name, RData, Record};
use plugin_api::{ConfigError, Controller, Ctx, Next, Plugin, Reply, Request, Serve};

/// The directive's name.
pub const NAME: &str = "whoami";

/// Reads `whoami` (no arguments) and returns the handler.
pub fn setup(c: &mut Controller) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    while c.next() {
        if c.next_arg() {
            return Err(c.arg_err());
        }
    }
    Ok(Some(Arc::new(Whoami)))
}

/// The *whoami* handler.
#[derive(Debug, Default)]
pub struct Whoami;

impl Plugin for Whoami {
    fn name(&self) -> &'static str {
        NAME
    }

    fn serve(&self, _ctx: &Ctx, req: &Arc<Request>, _next: Next<'_>) -> Serve {
        let mut msg = req.reply();
        msg.metadata.authoritative = true;

        let qname = req.qname();
        let class = req.qclass();
        let address = match req.ip() {
            std::net::IpAddr::V4(ip) => RData::A(A(ip)),
            std::net::IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        let mut addr_rr = Record::from_rdata(qname.clone(), 0, address);
        addr_rr.dns_class = class;

        // `_udp.<qname>`; for the root, `_udp.`.
        let label = format!("_{}", req.proto().as_str());
        let srv_owner = Name::from_ascii(&label)
            .and_then(|l| l.append_domain(&qname))
            .unwrap_or_else(|_| qname.clone());
        let srv = SRV::new(0, 0, req.port(), Name::root());
        let mut srv_rr = Record::from_rdata(srv_owner, 0, RData::SRV(srv));
        srv_rr.dns_class = class;

        msg.additionals = vec![addr_rr, srv_rr];
        Serve::Ready(Ok(Reply::message(msg, NAME)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::Proto;
    use plugin_api::proto::op::ResponseCode;
    use plugin_api::proto::rr::RecordType;
    use plugin_api::test_util::{self, Case, assert_case, reply_message, rr};

    fn serve(req: Request) -> plugin_api::proto::op::Message {
        reply_message(test_util::serve(vec![Arc::new(Whoami)], req))
    }

    #[test]
    fn answers_with_client_address_and_port() {
        let cases = [
            Case {
                extra: vec![
                    rr("example.org. 0 IN A 10.240.0.1"),
                    rr("_udp.example.org. 0 IN SRV 0 0 40212 ."),
                ],
                ..Case::new("example.org.", RecordType::A, ResponseCode::NoError)
            },
            // The owner keeps the case the client used.
            Case {
                extra: vec![
                    rr("Example.ORG. 0 IN A 10.240.0.1"),
                    rr("_udp.Example.ORG. 0 IN SRV 0 0 40212 ."),
                ],
                ..Case::new("Example.ORG.", RecordType::AAAA, ResponseCode::NoError)
            },
            Case {
                extra: vec![rr(". 0 IN A 10.240.0.1"), rr("_udp. 0 IN SRV 0 0 40212 .")],
                ..Case::new(".", RecordType::A, ResponseCode::NoError)
            },
        ];
        for case in &cases {
            let msg = serve(case.request());
            assert!(msg.metadata.authoritative, "whoami answers are authoritative");
            assert_case(case, &msg);
        }
    }

    #[test]
    fn ipv6_client_over_tcp() {
        let src = "[2001:db8::7]:5353".parse().unwrap();
        let req = test_util::request_with("a.test.", RecordType::A, Proto::Tcp, src, None);
        let case = Case {
            extra: vec![
                rr("a.test. 0 IN AAAA 2001:db8::7"),
                rr("_tcp.a.test. 0 IN SRV 0 0 5353 ."),
            ],
            ..Case::new("a.test.", RecordType::A, ResponseCode::NoError)
        };
        assert_case(&case, &serve(req));
    }

    #[test]
    fn setup_takes_no_arguments() {
        assert!(setup(&mut Controller::from_text("whoami")).unwrap().is_some());
        let err = setup(&mut Controller::from_text("whoami extra")).err().unwrap();
        assert_eq!(
            err.to_string(),
            "Testfile:1 - Error during parsing: Wrong argument count or unexpected line ending after 'extra'"
        );
    }
}
