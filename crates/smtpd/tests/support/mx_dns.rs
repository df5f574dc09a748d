//! A DNS server for relay tests on 127.0.0.1 (hickory-server): the zone
//! `test.` with the MX and A records a test gives; every other name gets a
//! fast negative answer. Point the server at it with
//! `--resolver 127.0.0.1:PORT`.

use hickory_server::proto::rr::rdata::{A, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;

/// A record of the fake zone.
pub enum Rr {
    /// `domain MX preference exchange` (`exchange` "." is a null MX).
    Mx(&'static str, u16, &'static str),
    /// `name A address`.
    A(&'static str, Ipv4Addr),
}

pub struct MxDns {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn name(s: &str) -> Name {
    let fq = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_str(&fq).expect("a valid DNS name")
}

impl MxDns {
    /// Serve `records` (names must end in `.test`).
    pub fn start(records: &[Rr]) -> MxDns {
        let mut z =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                name("test."),
                ZoneType::Primary,
                AxfrPolicy::Deny,
            );
        let soa = SOA::new(name("ns.test."), name("admin.test."), 1, 60, 60, 60, 0);
        z.upsert_mut(Record::from_rdata(name("test."), 60, RData::SOA(soa)), 1);
        for r in records {
            let rec = match r {
                Rr::Mx(domain, pref, exchange) => {
                    let ex = if *exchange == "." {
                        Name::root()
                    } else {
                        name(exchange)
                    };
                    Record::from_rdata(name(domain), 60, RData::MX(MX::new(*pref, ex)))
                }
                Rr::A(host, ip) => Record::from_rdata(name(host), 60, RData::A(A(*ip))),
            };
            z.upsert_mut(rec, 1);
        }
        let handler: Arc<dyn ZoneHandler> = Arc::new(z);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(name("test.")), vec![handler]);

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
        MxDns {
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

impl Drop for MxDns {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
