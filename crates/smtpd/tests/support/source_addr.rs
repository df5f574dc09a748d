//! Clients from a chosen loopback address: the tests tell an "outside"
//! client (127.0.0.2) from the local one (127.0.0.1) by the source address
//! of the connection, as the server's `from local` / `from src` rules do.

#![allow(dead_code)]

use std::io::BufReader;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::support::client::Client;

/// A TCP connection from `src` to 127.0.0.1:`port`.
pub fn connect_from(src: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddr::from((src, 0)).into())?;
    sock.connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into(),
        Duration::from_secs(10),
    )?;
    Ok(sock.into())
}

/// A harness client whose connection comes from `src`.
pub fn client_from(src: Ipv4Addr, port: u16) -> Client {
    let s = connect_from(src, port).expect("connect from a loopback source address");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set read timeout");
    Client {
        reader: BufReader::new(s.try_clone().expect("clone socket")),
        writer: s,
    }
}

/// The "outside" address of the tests.
pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
