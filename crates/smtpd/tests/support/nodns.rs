//! A DNS server on loopback that knows no name at all: every query gets
//! NXDOMAIN at once. Tests whose server must not ask the outside DNS (the
//! reverse name of 127.0.0.1) point `--resolver` at it; unlike a closed
//! port, which the resolver waits out for seconds, the answer is immediate.
//! Hand-written (a few lines of RFC 1035 header) because a whole
//! hickory-server authority would be far more code for "no".

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;

/// The address of the process-wide responder (started on first use).
pub fn addr() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding the no-DNS responder");
        let addr = sock.local_addr().expect("its address");
        std::thread::spawn(move || serve(sock));
        addr
    })
}

/// `--resolver ADDR` arguments for a server.
pub fn args() -> Vec<String> {
    vec!["--resolver".into(), addr().to_string()]
}

fn serve(sock: UdpSocket) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = nxdomain(&buf[..n]) {
            let _ = sock.send_to(&reply, peer);
        }
    }
}

/// The NXDOMAIN answer to a query: its id and question, no records.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: QNAME labels up to the root label, then QTYPE, QCLASS.
    let mut i = 12;
    loop {
        let len = *query.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        i += len;
    }
    let end = i + 4;
    let question = query.get(12..end)?;
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&query[..2]); // id
    out.push(0x80 | (query[2] & 0x79)); // QR, opcode, RD
    out.push(0x80 | 3); // RA, RCODE NXDOMAIN
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    out.extend_from_slice(question);
    Some(out)
}
