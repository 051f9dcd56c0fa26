//! *bind* over real sockets, in a network namespace the test makes as NodeLocal DNSCache's node
//! looks: a dummy interface holding the link-local 169.254.20.10 and the kube-dns Service's
//! address. Blocks on one port listen on different addresses; an address of the host that no
//! block names is not answered on that port; an interface name resolves to its addresses at
//! start and again at reload; an address the host does not have fails the start with the
//! kernel's words.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferrodns::Instance;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::{TcpStream, UdpSocket};

use crate::harness::{answer_lines, query, read_frame, write_frame};
use crate::netns;

const NODE_LOCAL: &str = "169.254.20.10";
const KUBE_DNS: &str = "10.96.0.10";
/// On the same interface, named by no block.
const OTHER: &str = "169.254.20.11";
/// Added to the interface while the server runs, before a reload.
const LATER: &str = "169.254.20.12";

/// NodeLocal DNSCache's shape: the cluster zone on both addresses, the rest on the link-local
/// one only; a third block binds by interface name, except the Service address.
const COREFILE: &str = "cluster.local:53 {
    bind 169.254.20.10 10.96.0.10
    hosts {
        10.0.0.7 web.default.svc.cluster.local
    }
}
.:53 {
    bind 169.254.20.10
    whoami
}
by-name.test:5354 {
    bind dummy0 {
        except 10.96.0.10
    }
    whoami
}
bound.test:5356 {
    bind 169.254.20.10
    whoami
}
wild.test:5356 {
    whoami
}
";

#[test]
fn bind_listens_only_on_the_named_addresses() {
    netns::on_node("dummy0", &[NODE_LOCAL, KUBE_DNS, OTHER], serve_on_the_node);
}

fn at(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(addr.parse::<IpAddr>().unwrap(), port)
}

async fn serve_on_the_node() {
    let mut instance = Instance::start_text(COREFILE).await.expect("start");
    let banner = instance.banner().to_owned();
    for line in [
        "cluster.local.:53 on 169.254.20.10",
        "cluster.local.:53 on 10.96.0.10",
        ".:53 on 169.254.20.10",
        "by-name.test.:5354 on 169.254.20.10",
        "by-name.test.:5354 on 169.254.20.11",
    ] {
        assert!(banner.lines().any(|l| l == line), "banner has {line:?}:\n{banner}");
    }
    assert!(!banner.contains("by-name.test.:5354 on 10.96.0.10"), "excepted:\n{banner}");

    // Both blocks on 169.254.20.10:53, over UDP and TCP.
    let web = "web.default.svc.cluster.local.";
    for addr in [at(NODE_LOCAL, 53), at(KUBE_DNS, 53)] {
        let reply = udp(addr, web).await.unwrap_or_else(|| panic!("{addr} answers"));
        assert_eq!(answer_lines(&reply), [format!("{web} A 10.0.0.7")], "{addr}");
        let reply = tcp(addr, web).await.unwrap_or_else(|| panic!("{addr} answers TCP"));
        assert_eq!(answer_lines(&reply), [format!("{web} A 10.0.0.7")], "{addr} TCP");
    }
    let outside = udp(at(NODE_LOCAL, 53), "example.org.").await.expect("whoami block");
    assert_eq!(outside.metadata.response_code, ResponseCode::NoError);
    assert_eq!(outside.additionals.len(), 2, "whoami's A and SRV: {outside:?}");
    // The Service address serves only the cluster zone: no `.` zone listens there.
    let refused = udp(at(KUBE_DNS, 53), "example.org.").await.expect("a reply");
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);

    // Port 53 of an address of the same interface that no block names is not served, nor
    // is loopback's: no wildcard socket was opened.
    for addr in [at(OTHER, 53), at("127.0.0.1", 53)] {
        assert!(udp(addr, web).await.is_none(), "{addr} must not answer");
        assert!(TcpStream::connect(addr).await.is_err(), "{addr} must refuse TCP");
    }

    // By interface name: every address of dummy0 but the excepted one.
    assert!(udp(at(NODE_LOCAL, 5354), "by-name.test.").await.is_some());
    assert!(udp(at(OTHER, 5354), "by-name.test.").await.is_some());
    assert!(udp(at(KUBE_DNS, 5354), "by-name.test.").await.is_none(), "excepted");
    assert!(udp(at(LATER, 5354), "by-name.test.").await.is_none(), "not there yet");

    // A bound block and a wildcard one on one port (the README's Bugs): the kernel gives a
    // packet to the socket bound to its destination, so each zone is answered where its
    // block listens and refused elsewhere.
    let rcode = |m: Option<Message>| m.expect("a reply").metadata.response_code;
    assert_eq!(rcode(udp(at(NODE_LOCAL, 5356), "bound.test.").await), ResponseCode::NoError);
    assert_eq!(rcode(udp(at(NODE_LOCAL, 5356), "wild.test.").await), ResponseCode::Refused);
    assert_eq!(rcode(udp(at(OTHER, 5356), "wild.test.").await), ResponseCode::NoError);
    assert_eq!(rcode(udp(at(OTHER, 5356), "bound.test.").await), ResponseCode::Refused);
    assert_eq!(rcode(tcp(at(NODE_LOCAL, 5356), "bound.test.").await), ResponseCode::NoError);
    assert_eq!(rcode(tcp(at(OTHER, 5356), "bound.test.").await), ResponseCode::Refused);

    // An address the interface gains is listened on after a reload, which resolves the
    // name again; the listeners that stay keep serving.
    netns::add_address("dummy0", LATER);
    instance.reload().await.expect("reload");
    assert!(udp(at(LATER, 5354), "by-name.test.").await.is_some(), "after the reload");
    assert!(udp(at(NODE_LOCAL, 53), web).await.is_some(), "still served");

    // An address the host does not have: the start fails as CoreDNS's does.
    let err = Instance::start_text(".:5355 {\n bind 192.0.2.99\n whoami\n}")
        .await
        .err()
        .expect("an address not on the host fails");
    assert_eq!(err, "listen tcp 192.0.2.99:5355: bind: cannot assign requested address");
    instance.stop().await;
}

/// Asks `name` A over UDP from an unbound socket; `None` if no reply comes within a second
/// (an address nobody listens on answers with ICMP, which also ends in `None`).
async fn udp(addr: SocketAddr, name: &str) -> Option<Message> {
    let sock = UdpSocket::bind("0.0.0.0:0").await.expect("bind client");
    sock.send_to(&query(name, RecordType::A).to_vec().unwrap(), addr).await.ok()?;
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => {
            assert_eq!(from, addr, "the reply comes from the address asked");
            Some(Message::from_vec(&buf[..n]).expect("reply decodes"))
        }
        _ => None,
    }
}

async fn tcp(addr: SocketAddr, name: &str) -> Option<Message> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    write_frame(&mut stream, &query(name, RecordType::A).to_vec().unwrap()).await;
    Message::from_vec(&read_frame(&mut stream).await?).ok()
}
