//! Hostile clients, by their connections: thousands of idle connections
//! and slowloris sessions (bytes dribbled slowly) from 127.0.0.1 are held,
//! while a well-behaved client from 127.0.0.2 still gets its banner within
//! a second and its mail through, and the server's memory (PSS summed over
//! its process tree) stays bounded per connection.
//!
//! CI form: 2,000 idle connections, 200 slowloris sessions for 8 s. The
//! long form (10,000 idle, one byte a minute) is `reliability/hostile.py`,
//! see RELIABILITY.md. The tests of this file run one at a time, so that
//! one attack's load does not count against another's latency.

mod support;

#[path = "support/fd_limit.rs"]
mod fd_limit;
#[path = "support/good_client.rs"]
mod good_client;
#[path = "support/maildirs.rs"]
mod maildirs;
#[path = "support/source_addr.rs"]
mod source_addr;
#[path = "support/tree_memory.rs"]
mod tree_memory;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::Server;

const CONFIG: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for domain "local.test" action "local"
"#;

const IDLE: usize = 2000;
const SLOW: usize = 200;
/// What one held connection may cost the server, at most.
const KIB_PER_CONNECTION: u64 = 64;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start a server able to hold `conns` connections (it inherits our
/// raised descriptor limit).
fn server_for(conns: usize) -> Server {
    let want = (conns as u64) * 3 + 1024;
    let got = fd_limit::raise_nofile(want);
    assert!(
        got >= want,
        "cannot raise RLIMIT_NOFILE to {want} (got {got})"
    );
    Server::start(CONFIG)
}

/// Connect to the server from 127.0.0.1, giving up after 10 s (a server
/// that stops accepting leaves connects hanging in SYN retries).
fn connect(port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(10))
}

/// Read the first reply line of a fresh connection (its banner), waiting
/// no later than `deadline`.
fn banner(s: &mut TcpStream, deadline: Instant) -> Option<String> {
    let left = deadline.saturating_duration_since(Instant::now());
    s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

#[test]
fn thousands_of_idle_connections_are_held_and_do_not_starve_others() {
    let _one = serial();
    let server = server_for(IDLE);
    let root = server.path("maildirs");
    let (base, _) = tree_memory::tree_kib(server.pid());
    let watch = tree_memory::PeakWatch::start(server.pid());

    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let s = connect(server.port).unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
        idle.push(s);
    }
    // Every one of them is a held session: it has its banner.
    let mut held = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for s in idle.iter_mut() {
        if banner(s, deadline).is_some_and(|b| b.starts_with("220")) {
            held += 1;
        }
    }
    assert_eq!(held, IDLE, "every idle connection gets its banner");

    good_client::check(server.port, &root, "idle");

    let peak = watch.peak();
    let per_conn = peak.saturating_sub(base) / IDLE as u64;
    eprintln!("idle: base PSS {base} KiB, peak {peak} KiB, {per_conn} KiB per connection");
    assert!(
        per_conn <= KIB_PER_CONNECTION,
        "{IDLE} idle connections cost {per_conn} KiB each (base {base} KiB, peak {peak} KiB)"
    );
    drop(idle);
    // Once they are gone the server is as usable as before.
    good_client::check(server.port, &root, "after-idle");
}

#[test]
fn slowloris_sessions_do_not_starve_others() {
    let _one = serial();
    let server = server_for(SLOW);
    let root = server.path("maildirs");
    let (base, _) = tree_memory::tree_kib(server.pid());
    let watch = tree_memory::PeakWatch::start(server.pid());

    // Every slow client sends a valid session start, one byte per round.
    let script =
        b"EHLO slow.test\r\nMAIL FROM:<slow@client.test>\r\nRCPT TO:<good@local.test>\r\nDATA\r\n";
    let port = server.port;
    let dribbler = std::thread::spawn(move || {
        let mut conns: Vec<TcpStream> = (0..SLOW).filter_map(|_| connect(port).ok()).collect();
        for c in &conns {
            let _ = c.set_nonblocking(true);
        }
        let until = Instant::now() + Duration::from_secs(8);
        let mut pos = 0;
        let mut sink = [0u8; 4096];
        while Instant::now() < until {
            let byte = [script[pos % script.len()]];
            for c in conns.iter_mut() {
                let _ = c.write(&byte);
                let _ = c.read(&mut sink); // drain replies; nothing else
            }
            pos += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        conns.len()
    });
    std::thread::sleep(Duration::from_secs(1));
    good_client::check(server.port, &root, "slowloris");
    let opened = dribbler.join().expect("dribbler thread");
    assert_eq!(opened, SLOW, "every slow client got connected");

    let peak = watch.peak();
    let per_conn = peak.saturating_sub(base) / SLOW as u64;
    eprintln!("slowloris: base PSS {base} KiB, peak {peak} KiB, {per_conn} KiB per connection");
    assert!(
        per_conn <= KIB_PER_CONNECTION,
        "{SLOW} slow sessions cost {per_conn} KiB each (base {base} KiB, peak {peak} KiB)"
    );
}
