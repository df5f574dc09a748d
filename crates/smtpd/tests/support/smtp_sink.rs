//! "The internet" for relay tests: a tiny SMTP server on 127.0.0.1 that
//! accepts everything and records every MAIL FROM and RCPT TO it is given.
//! A relay action pointing at it turns any relayed message into a record.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Records {
    inner: Arc<Mutex<Vec<String>>>,
}

impl Records {
    fn push(&self, s: String) {
        self.inner.lock().expect("sink records").push(s);
    }

    /// Every `MAIL FROM:`/`RCPT TO:` line received so far.
    pub fn lines(&self) -> Vec<String> {
        self.inner.lock().expect("sink records").clone()
    }
}

pub struct Sink {
    pub port: u16,
    pub records: Records,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
        let port = listener.local_addr().expect("sink address").port();
        let records = Records::default();
        let r2 = records.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let r3 = r2.clone();
                std::thread::spawn(move || serve(s, r3));
            }
        });
        Sink { port, records }
    }
}

fn serve(s: TcpStream, rec: Records) {
    let Ok(mut w) = s.try_clone() else { return };
    let mut r = BufReader::new(s);
    let say = |w: &mut TcpStream, t: &str| w.write_all(format!("{t}\r\n").as_bytes());
    if say(&mut w, "220 sink ESMTP").is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        let reply = if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
            rec.push(text);
            "250 ok"
        } else if upper.starts_with("DATA") {
            if say(&mut w, "354 go on").is_err() {
                return;
            }
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == b".\r\n" => break,
                    Ok(_) => {}
                }
            }
            "250 accepted"
        } else if upper.starts_with("QUIT") {
            let _ = say(&mut w, "221 bye");
            return;
        } else {
            "250 ok"
        };
        if say(&mut w, reply).is_err() {
            return;
        }
    }
}
