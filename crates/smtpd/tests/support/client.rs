//! A plain SMTP client for tests: lines in, replies out, raw bytes when a
//! test needs to send what no real client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// One reply: its code and its lines (text after `250-`/`250 `).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Client {
    pub fn connect(addr: impl ToSocketAddrs) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    pub fn set_timeout(&self, d: Duration) {
        self.writer.set_read_timeout(Some(d)).unwrap();
    }

    /// Read one reply (all its lines). Panics on EOF or timeout.
    pub fn reply(&mut self) -> Reply {
        self.try_reply()
            .expect("connection closed while waiting for a reply")
    }

    /// Read one reply; `None` at EOF.
    pub fn try_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(_) => return None,
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.len() < 3 {
                panic!("malformed reply line {line:?}");
            }
            let code: u16 = line[..3].parse().expect("reply code");
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Some(Reply { code, lines });
            }
        }
    }

    /// Expect a reply with this code.
    pub fn expect(&mut self, code: u16) -> Reply {
        let r = self.reply();
        assert_eq!(r.code, code, "expected {code}, got {r:?}");
        r
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    pub fn line(&mut self, l: &str) {
        self.send_raw(format!("{l}\r\n").as_bytes());
    }

    /// Send a command and read its reply.
    pub fn cmd(&mut self, l: &str) -> Reply {
        self.line(l);
        self.reply()
    }

    /// Greeting + EHLO.
    pub fn hello(&mut self) -> Reply {
        self.expect(220);
        self.line("EHLO client.test");
        self.expect(250)
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
        self.send_raw(data_block(body).as_bytes());
        self.reply()
    }

    /// Read whatever comes until EOF (for tests of disconnects).
    pub fn read_to_end(&mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }
}

/// `body` as DATA sends it: CRLF line ends, leading dots doubled, and the
/// final `.` line.
pub fn data_block(body: &str) -> String {
    let mut data = String::new();
    for l in body.split('\n') {
        let l = l.strip_suffix('\r').unwrap_or(l);
        if l.starts_with('.') {
            data.push('.');
        }
        data.push_str(l);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    data
}
