//! Clients that connect from a chosen loopback address: on Linux all of
//! 127.0.0.0/8 reaches this host, so a test can play a client that is not
//! one of the host's interface addresses (not `from local`), or one with a
//! reverse name in a fake DNS.

use super::client::Client;
use std::io::BufReader;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// Connect to 127.0.0.1:`port` from `src` (port chosen by the kernel).
pub fn connect_from(src: &str, port: u16) -> Client {
    let src: IpAddr = src.parse().expect("a source address");
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::new(src, 0).into())
        .expect("binding the source address");
    let dst: SocketAddr = ([127, 0, 0, 1], port).into();
    sock.connect(&dst.into()).expect("connect");
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    Client {
        reader: BufReader::new(s.try_clone().unwrap()),
        writer: s,
    }
}
