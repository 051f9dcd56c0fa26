//! Reloads that add and remove ports, and reloads that fail: at staging (a port taken by
//! another program), at the HTTP apply (a metrics address taken) and in a start-up hook. A
//! failed reload leaves the running configuration serving as it was.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrodns::Instance;
use ferrodns::config::Source;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::binary::Scratch;
use crate::harness::*;

fn at(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether `port` answers `name` over UDP (a short wait: a removed port answers nothing).
async fn answers_udp(port: u16, name: &str) -> bool {
    let question = query(name, RecordType::A);
    let reply = udp_exchange_within(at(port), &question, Duration::from_millis(300)).await;
    reply.is_some_and(|m| m.metadata.response_code == ResponseCode::NoError)
}

async fn answers_tcp(port: u16, name: &str) -> bool {
    tcp_exchange(at(port), &query(name, RecordType::A))
        .await
        .is_some_and(|m| m.metadata.response_code == ResponseCode::NoError)
}

/// `text`, written to the Corefile in `dir`, as the source a start or reload reads.
fn write_source(dir: &Scratch, text: &str) -> Source {
    let path = dir.write("Corefile", text);
    Source {
        filename: path.display().to_string(),
        text: text.into(),
        path: Some(path.display().to_string()),
        dns_port: "53".into(),
    }
}

async fn start(dir: &Scratch, text: &str) -> Instance {
    Instance::start(write_source(dir, text)).await.unwrap()
}

/// A hook that sets `flag` when it runs.
fn raise(flag: &Arc<AtomicBool>) -> plugin_api::Hook {
    let flag = flag.clone();
    Box::pin(async move {
        flag.store(true, Ordering::SeqCst);
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_adds_and_removes_ports() {
    let (p1, p2) = (free_port(), free_port());
    let dir = Scratch::new("reload-ports");
    let one = format!("a.test:{p1} {{\n whoami\n}}\n");
    let mut instance = start(&dir, &one).await;
    assert!(answers_udp(p1, "x.a.test.").await);

    // A second port: it serves at once, over UDP and TCP; the first goes on.
    dir.write("Corefile", &format!("{one}b.test:{p2} {{\n whoami\n}}\n"));
    instance.reload().await.unwrap();
    assert!(answers_udp(p2, "x.b.test.").await && answers_tcp(p2, "x.b.test.").await);
    assert!(answers_udp(p1, "x.a.test.").await && answers_tcp(p1, "x.a.test.").await);

    // The first port goes: nothing answers there, and the port is let go.
    dir.write("Corefile", &format!("b.test:{p2} {{\n whoami\n}}\n"));
    instance.reload().await.unwrap();
    assert!(answers_udp(p2, "x.b.test.").await);
    // The removed port's workers first answer what the kernel had queued for them (a query
    // sent just after the reload may still be), then let the socket go: from then on nothing
    // answers there, no connection is accepted, and a socket without SO_REUSEPORT can bind it.
    wait_until("the removed port answers nothing", || async {
        !answers_udp(p1, "x.a.test.").await
    })
    .await;
    eventually("the removed port accepts no connection", || TcpStream::connect(at(p1)).is_err())
        .await;
    eventually("the removed port is free", || UdpSocket::bind(at(p1)).is_ok()).await;
    assert!(!answers_udp(p1, "x.a.test.").await, "and stays silent");
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_reloads_keep_the_running_configuration() {
    let port = free_port();
    let dir = Scratch::new("reload-fails");
    let running = format!("a.test:{port} {{\n whoami\n}}\n");
    let mut instance = start(&dir, &running).await;

    // Staging fails: the new port is taken by a socket this test holds.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    dir.write("Corefile", &format!("{running}b.test:{taken_port} {{\n whoami\n}}\n"));
    let err = instance.reload().await.expect_err("the port is taken");
    assert!(err.contains(&format!("{taken_port}")), "{err}");
    assert!(answers_udp(port, "x.a.test.").await, "still serving after a failed staging");
    assert!(!answers_udp(taken_port, "x.b.test.").await);

    // The HTTP apply fails: the metrics address is taken.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = held.local_addr().unwrap();
    dir.write(
        "Corefile",
        &format!(
            "a.test:{port} {{\n prometheus {metrics}\n whoami\n}}\nc.test:{port} {{\n whoami\n}}\n"
        ),
    );
    let err = instance.reload().await.expect_err("the metrics address is taken");
    assert!(err.contains(&metrics.port().to_string()), "{err}");
    assert!(answers_udp(port, "x.a.test.").await, "still serving after a failed HTTP apply");
    assert!(!answers_udp(port, "x.c.test.").await, "the new block is not served");

    // The file fixed, the reload goes through.
    drop((taken, held));
    dir.write("Corefile", &format!("{running}d.test:{port} {{\n whoami\n}}\n"));
    instance.reload().await.unwrap();
    assert!(answers_udp(port, "x.d.test.").await);
    instance.stop().await;
}

/// No directive's start-up hook fails on demand, so this one is added to a loaded configuration:
/// the path is the same [`Instance::reload`] takes once it has read the Corefile.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_start_up_hook_keeps_the_running_configuration() {
    let (port, added) = (free_port(), free_port());
    let dir = Scratch::new("reload-hook");
    let running = format!("a.test:{port} {{\n whoami\n}}\n");
    let mut instance = start(&dir, &running).await;
    // The running configuration gets a shutdown hook the test can see.
    let running_stopped = Arc::new(AtomicBool::new(false));
    let source = write_source(&dir, &running);
    let mut config = ferrodns::config::load(&source, &|_| {}).unwrap();
    config.on_shutdown.push(raise(&running_stopped));
    instance.switch_to(source, config).await.unwrap();

    // The next one adds a block on the running port and a port of its own, and its second
    // start-up hook fails.
    let next = format!("{running}b.test:{port} {{\n whoami\n}}\nc.test:{added} {{\n whoami\n}}\n");
    let source = write_source(&dir, &next);
    let mut config = ferrodns::config::load(&source, &|_| {}).unwrap();
    let [first_ran, third_ran, next_stopped] = [(); 3].map(|()| Arc::new(AtomicBool::new(false)));
    config.on_startup.push(raise(&first_ran));
    config.on_startup.push(Box::pin(async { Err("plugin/test: cannot start".to_string()) }));
    config.on_startup.push(raise(&third_ran));
    config.on_shutdown.push(raise(&next_stopped));
    let err = instance.switch_to(source, config).await.expect_err("a start-up hook fails");
    assert_eq!(err, "plugin/test: cannot start");
    assert!(first_ran.load(Ordering::SeqCst), "the hooks before the failing one ran");
    assert!(!third_ran.load(Ordering::SeqCst), "no hook runs after the failing one");
    assert!(next_stopped.load(Ordering::SeqCst), "the failed configuration's plugins are stopped");
    assert!(!running_stopped.load(Ordering::SeqCst), "the running configuration's are not");

    // The running configuration serves as it was: its block over UDP and TCP, not the new
    // block, and the new port is let go.
    assert!(answers_udp(port, "x.a.test.").await && answers_tcp(port, "x.a.test.").await);
    assert!(!answers_udp(port, "x.b.test.").await, "the new block is not served");
    eventually("the new port is let go", || {
        UdpSocket::bind(at(added)).is_ok() && TcpListener::bind(at(added)).is_ok()
    })
    .await;

    // Read from the file, without the failing hook, the same Corefile goes through, and only
    // now do the old plugins stop.
    instance.reload().await.unwrap();
    assert!(answers_udp(port, "x.b.test.").await && answers_udp(added, "x.c.test.").await);
    assert!(running_stopped.load(Ordering::SeqCst), "the replaced configuration's plugins stop");
    instance.stop().await;
}
