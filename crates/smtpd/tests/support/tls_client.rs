//! An SMTP client for the server's TLS tests: clear TCP that STARTTLS
//! upgrades in place, or TLS from the first byte (smtps). Synchronous
//! rustls over a std TCP stream; replies are read from our own buffer, so
//! a test can tell exactly what the server sent and when.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::client::Reply;

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Gone,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

pub struct TlsClient {
    stream: Stream,
    /// Received, not yet read as replies.
    buf: Vec<u8>,
    pub tls: bool,
}

fn connect_tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn handshake(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    name: &str,
) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).map_err(|e| e.to_string())?;
    }
    Ok(s)
}

impl TlsClient {
    /// Clear TCP (STARTTLS comes later).
    pub fn plain(port: u16) -> TlsClient {
        TlsClient {
            stream: Stream::Plain(connect_tcp(port)),
            buf: Vec::new(),
            tls: false,
        }
    }

    /// TLS from the first byte (smtps), the certificate checked for `name`.
    pub fn smtps(port: u16, config: Arc<ClientConfig>, name: &str) -> TlsClient {
        let s = handshake(connect_tcp(port), config, name).expect("TLS handshake");
        TlsClient {
            stream: Stream::Tls(Box::new(s)),
            buf: Vec::new(),
            tls: true,
        }
    }

    /// Upgrade after the server's 220 to STARTTLS. Anything the server
    /// sent in clear after that 220 is an error of the test's server.
    pub fn upgrade(&mut self, config: Arc<ClientConfig>, name: &str) -> Result<(), String> {
        assert!(
            self.buf.is_empty(),
            "the server sent more in clear after its 220: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            panic!("not a clear connection");
        };
        let s = handshake(tcp, config, name)?;
        self.stream = Stream::Tls(Box::new(s));
        self.tls = true;
        Ok(())
    }

    /// EHLO, then STARTTLS and the handshake; returns the EHLO reply of
    /// before TLS.
    pub fn starttls(&mut self, config: Arc<ClientConfig>) -> Reply {
        self.expect(220);
        let ehlo = self.cmd("EHLO client.test");
        assert_eq!(ehlo.code, 250, "{ehlo:?}");
        let r = self.cmd("STARTTLS");
        assert_eq!(r.code, 220, "{r:?}");
        self.upgrade(config, "localhost").expect("TLS handshake");
        ehlo
    }

    /// Read one reply; `None` at EOF or error.
    pub fn try_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            assert!(line.len() >= 3, "malformed reply line {line:?}");
            let code: u16 = line[..3].parse().expect("reply code");
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Some(Reply { code, lines });
            }
        }
    }

    fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Some(text.trim_end_matches(['\r', '\n']).to_string());
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn reply(&mut self) -> Reply {
        self.try_reply()
            .expect("connection closed while waiting for a reply")
    }

    pub fn expect(&mut self, code: u16) -> Reply {
        let r = self.reply();
        assert_eq!(r.code, code, "expected {code}, got {r:?}");
        r
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
        self.stream.flush().expect("flush");
    }

    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// A whole transaction; returns the reply to the end of data.
    pub fn send_mail(&mut self, from: &str, rcpts: &[&str], body: &str) -> Reply {
        let r = self.cmd(&format!("MAIL FROM:<{from}>"));
        assert_eq!(r.code, 250, "MAIL: {r:?}");
        for rc in rcpts {
            let r = self.cmd(&format!("RCPT TO:<{rc}>"));
            assert_eq!(r.code, 250, "RCPT {rc}: {r:?}");
        }
        let r = self.cmd("DATA");
        assert_eq!(r.code, 354, "DATA: {r:?}");
        self.send_raw(super::client::data_block(body).as_bytes());
        self.reply()
    }

    /// Read until the server closes (a failed handshake, a QUIT).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut rest);
        rest
    }
}

/// The keywords of an EHLO reply (its lines after the greeting).
pub fn keywords(ehlo: &Reply) -> Vec<String> {
    ehlo.lines.iter().skip(1).cloned().collect()
}
