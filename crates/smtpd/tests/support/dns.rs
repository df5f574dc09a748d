//! DNS servers for tests, on 127.0.0.1 (never the outside DNS):
//! - [`FakeDns`]: a real DNS server (hickory-server) answering from the
//!   names and addresses a test gives; anything else gets a fast negative
//!   answer, so lookups never wait for a timeout;
//! - [`SilentDns`]: a UDP socket that reads queries and never answers (a
//!   dead resolver).
//!
//! Point the server at one with `--resolver 127.0.0.1:PORT`.

use hickory_server::proto::rr::rdata::{A, PTR, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;

/// A DNS server answering PTR and A queries for the hosts it was given.
pub struct FakeDns {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn name(s: &str) -> Name {
    Name::from_str(s).expect("a valid DNS name")
}

fn zone(origin: &str, records: Vec<Record>) -> Arc<dyn ZoneHandler> {
    let mut z = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
        name(origin),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let soa = SOA::new(name("ns.test."), name("admin.test."), 1, 60, 60, 60, 0);
    z.upsert_mut(Record::from_rdata(name(origin), 60, RData::SOA(soa)), 1);
    for r in records {
        z.upsert_mut(r, 1);
    }
    Arc::new(z)
}

impl FakeDns {
    /// Serve `hosts`: each (address, name) gets a PTR record, and an A
    /// record when `forward` is true (a forward-confirmed name). Names
    /// must end in `.test`.
    pub fn start(hosts: &[(Ipv4Addr, &str, bool)]) -> FakeDns {
        let mut ptrs = Vec::new();
        let mut addrs = Vec::new();
        for (ip, host, forward) in hosts {
            let o = ip.octets();
            let rev = format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]);
            let fq = format!("{}.", host.trim_end_matches('.'));
            ptrs.push(Record::from_rdata(
                name(&rev),
                60,
                RData::PTR(PTR(name(&fq))),
            ));
            if *forward {
                addrs.push(Record::from_rdata(name(&fq), 60, RData::A(A(*ip))));
            }
        }
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::from(name("in-addr.arpa.")),
            vec![zone("in-addr.arpa.", ptrs)],
        );
        catalog.upsert(LowerName::from(name("test.")), vec![zone("test.", addrs)]);

        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding the fake DNS");
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake DNS");
            rt.block_on(async move {
                let mut server = hickory_server::Server::new(catalog);
                server.register_socket(tokio::net::UdpSocket::from_std(socket).unwrap());
                let _ = stop_rx.await;
                let _ = server.shutdown_gracefully().await;
            });
        });
        FakeDns {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `--resolver 127.0.0.1:PORT`.
    pub fn args(&self) -> Vec<String> {
        vec!["--resolver".into(), self.addr.to_string()]
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A resolver that never answers: queries are read and dropped.
pub struct SilentDns {
    pub addr: SocketAddr,
    _socket: UdpSocket,
}

impl SilentDns {
    pub fn start() -> SilentDns {
        // Nobody reads it: queries pile up in the receive buffer (and are
        // dropped once it is full), and no answer or ICMP error ever
        // comes back.
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding the silent DNS");
        SilentDns {
            addr: socket.local_addr().unwrap(),
            _socket: socket,
        }
    }

    pub fn args(&self) -> Vec<String> {
        vec!["--resolver".into(), self.addr.to_string()]
    }
}

/// `--resolver` arguments for a [`FakeDns`] that knows no names, shared by
/// the whole test binary: every lookup gets a quick negative answer (a
/// closed port would not do: the resolver's UDP socket never hears the
/// ICMP error and waits for its timeout).
pub fn no_names() -> Vec<String> {
    static DNS: std::sync::OnceLock<FakeDns> = std::sync::OnceLock::new();
    DNS.get_or_init(|| FakeDns::start(&[])).args()
}
