//! A receiving SMTP server for relay tests, on 127.0.0.1: it records every
//! byte it receives (so a test can check that no bare CR or LF ever came),
//! every transaction (MAIL and RCPT lines, the content with dot-stuffing
//! undone), and answers RCPT by rules on the address:
//! `perm…@` ⇒ 550 5.1.1, `temp…@` ⇒ 450 4.2.1, anything else 250.
//!
//! Hand-written rather than aiosmtpd: a test needs the raw bytes and exact
//! control over what is offered, and a Rust thread needs no Python.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One transaction the sink accepted (DATA answered 250).
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub helo: String,
    /// The whole MAIL line, e.g. `MAIL FROM:<a@b> SIZE=12 BODY=8BITMIME`.
    pub mail: String,
    /// The RCPT lines the sink accepted.
    pub rcpts: Vec<String>,
    /// The content as sent, dot-stuffing undone, CRLF kept, without the
    /// final `.`.
    pub data: Vec<u8>,
    /// The transaction ran over TLS.
    pub tls: bool,
    /// The user the client authenticated as.
    pub auth: Option<String>,
}

/// What the sink offers after EHLO.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// EHLO keywords (`8BITMIME`, `SIZE 1000`, `DSN` …).
    pub extensions: Vec<String>,
    /// Refuse EHLO with 500 (HELO only).
    pub no_ehlo: bool,
    /// Offer STARTTLS with this configuration.
    pub starttls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (SMTPS) with this configuration.
    pub implicit_tls: Option<Arc<rustls::ServerConfig>>,
    /// Offer AUTH PLAIN LOGIN (once under TLS) for this user and password.
    pub auth: Option<(String, String)>,
    /// Offer STARTTLS, then answer the handshake with garbage.
    pub broken_tls: bool,
    /// Speak LMTP: LHLO, and one reply per accepted recipient after DATA.
    pub lmtp: bool,
    /// Close each connection without a word after this many accepted
    /// transactions, as a peer that restarted would leave a client's
    /// cached connection.
    pub drop_after: Option<usize>,
    /// Close the connection without a word when MAIL comes.
    pub drop_at_mail: bool,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            extensions: vec!["8BITMIME".into(), "SIZE 10000000".into(), "DSN".into()],
            no_ehlo: false,
            starttls: None,
            implicit_tls: None,
            auth: None,
            broken_tls: false,
            lmtp: false,
            drop_after: None,
            drop_at_mail: false,
        }
    }
}

/// A byte stream, plain or TLS.
trait Rw: Read + Write + Send {}
impl<T: Read + Write + Send> Rw for T {}

fn tls_wrap(cfg: &Arc<rustls::ServerConfig>, inner: Box<dyn Rw>) -> Option<Box<dyn Rw>> {
    let conn = rustls::ServerConnection::new(cfg.clone()).ok()?;
    let mut s = rustls::StreamOwned::new(conn, inner);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).ok()?;
    }
    Some(Box::new(s))
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}

#[derive(Default)]
struct State {
    /// MAIL commands that arrived with more commands right behind them in
    /// the same read (the client pipelined).
    pipelined: usize,
    received: Vec<Received>,
    raw: Vec<Vec<u8>>,
    connections: usize,
}

pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    pub fn start(opts: SinkOptions) -> Sink {
        Sink::start_on(0, opts)
    }

    /// Listen on 127.0.0.1:`port` (0: any free port).
    pub fn start_on(port: u16, opts: SinkOptions) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding the sink");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (st, opts) = (st.clone(), opts.clone());
                        std::thread::spawn(move || serve(s, st, opts));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Sink {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many MAIL commands came pipelined with what follows.
    pub fn pipelined(&self) -> usize {
        self.state.lock().unwrap().pipelined
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Every byte received, per connection.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().raw.clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Is every CR followed by LF and every LF preceded by CR?
pub fn only_crlf(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, b)| match b {
        b'\r' => bytes.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && bytes[i - 1] == b'\r',
        _ => true,
    })
}

fn rcpt_reply(line: &str) -> &'static str {
    let lower = line.to_ascii_lowercase();
    if lower.contains("<perm") {
        "550 5.1.1 No such user here\r\n"
    } else if lower.contains("<temp") {
        "450 4.2.1 Mailbox busy, try later\r\n"
    } else {
        "250 2.1.5 Ok\r\n"
    }
}

fn serve(s: TcpStream, state: Arc<Mutex<State>>, opts: SinkOptions) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let idx = {
        let mut st = state.lock().unwrap();
        st.connections += 1;
        st.raw.push(Vec::new());
        st.raw.len() - 1
    };
    let mut stream: Box<dyn Rw> = Box::new(s);
    let mut tls = false;
    if let Some(cfg) = &opts.implicit_tls {
        match tls_wrap(cfg, stream) {
            Some(t) => stream = t,
            None => return,
        }
        tls = true;
    }
    let mut r = BufReader::new(stream);
    let mut line = Vec::new();
    let mut tx = Received::default();
    let mut helo = String::new();
    let mut auth: Option<String> = None;
    let mut accepted = 0;
    let _ = r.get_mut().write_all(b"220 sink.test ESMTP test sink\r\n");
    let read_line = |r: &mut BufReader<Box<dyn Rw>>, line: &mut Vec<u8>| -> bool {
        line.clear();
        match r.read_until(b'\n', line) {
            Ok(0) | Err(_) => false,
            Ok(_) => {
                state.lock().unwrap().raw[idx].extend_from_slice(line);
                true
            }
        }
    };
    loop {
        if !read_line(&mut r, &mut line) {
            return;
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let arg = words.next().unwrap_or("").to_string();
        let reply: String = match verb.as_str() {
            "EHLO" if opts.no_ehlo || opts.lmtp => "500 5.5.1 EHLO not supported\r\n".into(),
            "LHLO" if !opts.lmtp => "500 5.5.1 LHLO not supported\r\n".into(),
            "EHLO" | "LHLO" => {
                helo = arg;
                let mut rep = String::from("250-sink.test hello\r\n");
                for e in &opts.extensions {
                    rep.push_str(&format!("250-{e}\r\n"));
                }
                if (opts.starttls.is_some() || opts.broken_tls) && !tls {
                    rep.push_str("250-STARTTLS\r\n");
                }
                if opts.auth.is_some() && tls {
                    rep.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                rep.push_str("250 HELP\r\n");
                rep
            }
            "HELO" => {
                helo = arg;
                "250 sink.test\r\n".into()
            }
            "STARTTLS" if opts.broken_tls => {
                // Take the client's hello, answer nonsense.
                let _ = r.get_mut().write_all(b"220 2.0.0 Ready\r\n");
                let mut hello = [0u8; 512];
                let _ = r.get_mut().read(&mut hello);
                let _ = r.get_mut().write_all(b"this is not TLS\r\n");
                return;
            }
            "STARTTLS" if !tls => match &opts.starttls {
                Some(cfg) => {
                    let _ = r.get_mut().write_all(b"220 2.0.0 Ready to start TLS\r\n");
                    let inner = r.into_inner();
                    match tls_wrap(cfg, inner) {
                        Some(t) => {
                            r = BufReader::new(t);
                            tls = true;
                            helo.clear();
                            continue;
                        }
                        None => return,
                    }
                }
                None => "502 5.5.2 Command not recognized\r\n".into(),
            },
            "AUTH" if tls && opts.auth.is_some() => {
                let (user, pass) = opts.auth.clone().unwrap_or_default();
                let (u, p) = if arg.eq_ignore_ascii_case("PLAIN") {
                    let token = b64(words.next().unwrap_or(""));
                    let mut parts = token.split('\0').skip(1);
                    (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    )
                } else {
                    let mut got = Vec::new();
                    for prompt in ["334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n"] {
                        let _ = r.get_mut().write_all(prompt.as_bytes());
                        if !read_line(&mut r, &mut line) {
                            return;
                        }
                        got.push(b64(&String::from_utf8_lossy(&line)));
                    }
                    (got[0].clone(), got[1].clone())
                };
                if u == user && p == pass {
                    auth = Some(u);
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    "535 5.7.8 Authentication failed\r\n".into()
                }
            }
            "MAIL" if opts.drop_at_mail => return,
            "MAIL" => {
                if !r.buffer().is_empty() {
                    state.lock().unwrap().pipelined += 1;
                }
                tx = Received {
                    helo: helo.clone(),
                    mail: text.clone(),
                    tls,
                    auth: auth.clone(),
                    ..Received::default()
                };
                "250 2.1.0 Ok\r\n".into()
            }
            "RCPT" => {
                let rep = rcpt_reply(&text);
                if rep.starts_with('2') {
                    tx.rcpts.push(text.clone());
                }
                rep.into()
            }
            "DATA" => {
                let _ = r.get_mut().write_all(b"354 go ahead\r\n");
                let mut data = Vec::new();
                loop {
                    if !read_line(&mut r, &mut line) {
                        return;
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    let l = line.strip_prefix(b".").unwrap_or(&line);
                    data.extend_from_slice(l);
                }
                tx.data = data;
                let n = tx.rcpts.len();
                state.lock().unwrap().received.push(std::mem::take(&mut tx));
                accepted += 1;
                if opts.lmtp {
                    "250 2.0.0 Ok: delivered\r\n".repeat(n)
                } else {
                    "250 2.0.0 Ok: queued as 1234\r\n".into()
                }
            }
            "RSET" => {
                tx = Received::default();
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "QUIT" => {
                let _ = r.get_mut().write_all(b"221 2.0.0 Bye\r\n");
                return;
            }
            _ => "502 5.5.2 Command not recognized\r\n".into(),
        };
        if r.get_mut().write_all(reply.as_bytes()).is_err() {
            return;
        }
        let _ = r.get_mut().flush();
        if opts.drop_after.is_some_and(|n| accepted >= n) {
            return;
        }
    }
}
