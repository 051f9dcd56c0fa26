//! The listeners with real sockets: how the UDP workers share a listener's socket.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use plugin_api::pkg::zone::Transport;
use plugin_api::{Ctx, Next, Plugin, Reply, Request, Serve};

use super::*;
use crate::config::{Block, Listener};

/// How long anything here waits before the test gives up; no assertion is about time.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the plugin and the test tell each other.
#[derive(Default)]
struct Signals {
    /// The plugin is holding `slow.test.`.
    slow_started: AtomicBool,
    /// The test lets it go.
    released: AtomicBool,
}

/// Holds its worker thread on `slow.test.` until the test releases it (or [`PATIENCE`]
/// passes), and answers every query with an empty NOERROR.
struct HoldsSlow(Arc<Signals>);

impl Plugin for HoldsSlow {
    fn name(&self) -> &'static str {
        "holds"
    }

    fn serve(&self, _: &Ctx, req: &Arc<Request>, _: Next<'_>) -> Serve {
        if req.name() == "slow.test." {
            self.0.slow_started.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + PATIENCE;
            while !self.0.released.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Serve::Ready(Ok(Reply::message(req.reply(), "holds")))
    }
}

/// A listener on port 0 whose only zone, `test.`, is served by [`HoldsSlow`].
fn holding(signals: &Arc<Signals>) -> Listener {
    let block = Block {
        zones: vec!["test.".into()],
        chain: vec![Arc::new(HoldsSlow(signals.clone())) as Arc<dyn Plugin>].into(),
        directives: vec!["holds"],
        metadata: None,
    };
    Listener {
        transport: Transport::Dns,
        port: 0,
        host: None,
        zones: vec![("test.".into(), Arc::new(block))],
        sockets: 1,
        tcp: Default::default(),
        debug: false,
        shed: false,
    }
}

/// Sends `slow.test.` from `client` and returns once a worker holds it.
fn send_slow_and_wait_until_held(client: &UdpSocket, server: SocketAddr, signals: &Signals) {
    client.send_to(&query("slow.test."), server).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !signals.slow_started.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(signals.slow_started.load(Ordering::SeqCst), "the slow query reached the plugin");
}

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// The question's name of the next reply `client` receives, if one comes in time.
fn next_answer(client: &UdpSocket) -> Option<String> {
    let mut buf = [0u8; 512];
    let (len, _) = client.recv_from(&mut buf).ok()?;
    Some(Message::from_vec(&buf[..len]).unwrap().queries[0].name().to_string())
}

/// A listener of `workers` loops serving [`HoldsSlow`], with a client whose `slow.test.` query
/// one of them holds.
struct Held {
    signals: Arc<Signals>,
    in_flight: InFlight,
    bound: Bound,
    server: SocketAddr,
    client: UdpSocket,
}

impl Held {
    fn start(workers: usize) -> Self {
        let signals = Arc::new(Signals::default());
        let in_flight = InFlight::default();
        let bound = start_listener(&holding(&signals), 0, workers, &in_flight).expect("binds");
        let server = SocketAddr::from((Ipv4Addr::LOCALHOST, bound.addr.port()));
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        client.set_read_timeout(Some(PATIENCE * 2)).unwrap();
        send_slow_and_wait_until_held(&client, server, &signals);
        Self { signals, in_flight, bound, server, client }
    }

    fn answered(&self) -> String {
        next_answer(&self.client).expect("the query is answered")
    }

    /// Stops the listener while the query is held, checks that the stop is still waiting once
    /// it has begun (once the listener's TCP port refuses connections), then lets the query go
    /// and waits for the stop. Returns the client.
    async fn stop_then_release(self) -> UdpSocket {
        let servers = Servers { bound: vec![self.bound], in_flight: self.in_flight };
        let stop = tokio::spawn(servers.stop(PATIENCE));
        let port = self.server;
        let begun = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + PATIENCE;
            while std::net::TcpStream::connect(port).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        begun.await.unwrap();
        assert!(!stop.is_finished(), "the stop waits for the held worker");
        self.signals.released.store(true, Ordering::SeqCst);
        stop.await.unwrap();
        self.client
    }
}

/// One client (one address and port, so one flow for `SO_REUSEPORT`'s hash) sends a query
/// that holds its worker, then another: a second worker must take the second query from the
/// shared socket and answer it while the first is held. With a socket per worker, both queries hashed to one
/// socket and the second waited behind the first.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_free_worker_takes_the_next_query_while_another_is_held() {
    let held = Held::start(2);
    held.client.send_to(&query("fast.test."), held.server).unwrap();
    // Held until the first reply is in, so the two replies cannot race each other.
    let first = held.answered();
    held.signals.released.store(true, Ordering::SeqCst);
    let second = held.answered();
    held.bound.abort();
    assert_eq!([first, second], ["fast.test.", "slow.test."]);
}

/// A stop waits for a worker still serving its batch, and the port is free when it returns. A
/// worker between two reads keeps the socket open, and the kernel queues packets for it: a CI
/// run saw a query sent after the stop answered.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_waits_for_its_workers_and_lets_the_port_go() {
    let held = Held::start(2);
    let port = held.server.port();
    let client = held.stop_then_release().await;
    // The query in progress was answered before the socket closed.
    assert_eq!(next_answer(&client).as_deref(), Some("slow.test."));
    // Nothing holds the port: a socket without SO_REUSEPORT can take it.
    UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free after the stop");
}

/// Packets queued on the socket when it stops are still answered before it closes. The one
/// worker is held on a query while three more queue up behind it, and the stop comes before it
/// is let go.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_answers_what_was_queued_before_it() {
    let held = Held::start(1);
    for name in ["q1.test.", "q2.test.", "q3.test."] {
        held.client.send_to(&query(name), held.server).unwrap();
    }
    let client = held.stop_then_release().await;
    let answered: Vec<String> = (0..4).map_while(|_| next_answer(&client)).collect();
    assert_eq!(answered, ["slow.test.", "q1.test.", "q2.test.", "q3.test."]);
}

/// The sockets bound to `port`: UDP ones, and TCP ones listening. From `/proc/net`, so a socket
/// still held by a thread that has not ended counts.
#[cfg(target_os = "linux")]
fn sockets_on(port: u16) -> (usize, usize) {
    let count = |files: &[&str], listening_only: bool| {
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|table| table.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local_port = fields.get(1).and_then(|a| a.rsplit(':').next());
                local_port == Some(&format!("{port:04X}"))
                    && (!listening_only || fields.get(3) == Some(&"0A"))
            })
            .count()
    };
    (
        count(&["/proc/net/udp", "/proc/net/udp6"], false),
        count(&["/proc/net/tcp", "/proc/net/tcp6"], true),
    )
}

#[cfg(target_os = "linux")]
fn loaded(corefile: &str) -> Config {
    let source = crate::config::Source {
        filename: "Corefile".into(),
        text: corefile.into(),
        path: None,
        dns_port: "0".into(),
    };
    crate::config::load(&source, &|_| {}).expect("loads")
}

/// Waits for the port's sockets to be `want` (a stopped loop lets its socket go when its thread
/// ends) and asks a question over UDP.
#[cfg(target_os = "linux")]
fn settles_and_answers(port: u16, want: (usize, usize)) {
    let deadline = Instant::now() + PATIENCE;
    while sockets_on(port) != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sockets_on(port), want, "UDP sockets and TCP listeners on the port");
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(&query("a.example."), (Ipv4Addr::LOCALHOST, port)).unwrap();
    assert_eq!(next_answer(&client).as_deref(), Some("a.example."));
}

/// *multisocket N* opens N UDP sockets and N TCP listeners on the port; a block without it
/// opens one of each. A reload that changes the count binds the new sockets beside the old
/// ones, and the old ones close: the port never goes unserved.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn multisocket_opens_its_count_of_sockets_and_a_reload_changes_it() {
    let three = loaded(".:0 {\n multisocket 3\n whoami\n}\n");
    assert_eq!(three.listeners[0].sockets, 3);
    let mut servers = Servers::bind(&three, 2).expect("binds");
    let port = servers.bound[0].addr.port();
    tokio::task::block_in_place(|| settles_and_answers(port, (3, 3)));

    // The configured port is 0: the new sockets go to the port bound already.
    let one = loaded(".:0 {\n whoami\n}\n");
    assert_eq!(one.listeners[0].sockets, 1);
    let staged = servers.stage(&one, 2).expect("stages");
    assert_eq!(sockets_on(port), (4, 4), "the new socket beside the old three");
    servers.commit(staged, &one);
    tokio::task::block_in_place(|| settles_and_answers(port, (1, 1)));

    let same = loaded(".:0 {\n whoami\n}\n");
    let staged = servers.stage(&same, 2).expect("stages");
    assert_eq!(sockets_on(port), (1, 1), "an unchanged count keeps its sockets");
    servers.commit(staged, &same);
    servers.stop(PATIENCE).await;
    assert_eq!(sockets_on(port), (0, 0));
}
