//! Hostile clients, by what they send: floods of junk and failing commands,
//! a 10 MB command line, a 10 MB text line, NUL bytes and invalid UTF-8.
//! Each gets the documented reply (`500 5.5.2 Line too long`; `421` and a
//! disconnect after too many unknown or failed commands; a 5xx for
//! unusable input), the server's memory (PSS summed over its process tree)
//! does not grow with the size of the attack, and a well-behaved client
//! from 127.0.0.2 still gets its banner within a second and its mail
//! through.

mod support;

#[path = "support/good_client.rs"]
mod good_client;
#[path = "support/maildirs.rs"]
mod maildirs;
#[path = "support/source_addr.rs"]
mod source_addr;
#[path = "support/tree_memory.rs"]
mod tree_memory;

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use support::client::{Client, Reply};
use support::Server;

const CONFIG: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for domain "local.test" action "local"
"#;

/// What a whole attack may add to the server's memory, at most: far below
/// the 10 MB lines (40 MB in all) the long-line test sends at once.
const MAX_GROWTH_KIB: u64 = 32 * 1024;
const BIG_LINE: usize = 10 * 1024 * 1024;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Send `bytes` from a writer thread (the server may stop reading and
/// close at any point) while this thread reads every reply until EOF.
fn blast(server: &Server, after_ehlo: bool, bytes: Vec<u8>) -> Vec<Reply> {
    let mut c = server.smtp();
    c.set_timeout(Duration::from_secs(30));
    c.expect(220);
    if after_ehlo {
        c.line("EHLO hostile.test");
        c.expect(250);
    }
    let mut w = c.writer.try_clone().expect("clone socket");
    let writer = std::thread::spawn(move || {
        for chunk in bytes.chunks(64 * 1024) {
            if w.write_all(chunk).is_err() {
                return;
            }
        }
        let _ = w.shutdown(std::net::Shutdown::Write);
    });
    let mut replies = Vec::new();
    while let Some(r) = c.try_reply() {
        replies.push(r);
    }
    let _ = writer.join();
    replies
}

fn growth(server: &Server, attack: impl FnOnce()) -> u64 {
    let (base, _) = tree_memory::tree_kib(server.pid());
    let watch = tree_memory::PeakWatch::start(server.pid());
    attack();
    watch.peak().saturating_sub(base)
}

fn codes(rs: &[Reply]) -> Vec<u16> {
    rs.iter().map(|r| r.code).collect()
}

/// Most errors a session may make before it is cut off.
const ERROR_LIMIT: usize = 1000;

/// Send `commands` in turn, one reply each, until the server disconnects:
/// the last reply must be a 421, after at most ERROR_LIMIT errors. (One at
/// a time, so that nothing is left unread when the server closes and its
/// 421 cannot be lost to a TCP reset.)
fn until_kicked(server: &Server, after_ehlo: bool, commands: &[&str]) -> Vec<Reply> {
    let mut c = server.smtp();
    c.set_timeout(Duration::from_secs(30));
    c.expect(220);
    if after_ehlo {
        c.line("EHLO hostile.test");
        c.expect(250);
    }
    let mut replies = Vec::new();
    for cmd in commands.iter().cycle().take(ERROR_LIMIT + 1) {
        c.line(cmd);
        match c.try_reply() {
            Some(r) => {
                let last = r.code == 421;
                replies.push(r);
                if last {
                    break;
                }
            }
            None => break,
        }
    }
    let last = replies
        .last()
        .unwrap_or_else(|| panic!("no reply at all to {commands:?}"));
    assert_eq!(
        last.code, 421,
        "{commands:?}: the session must end with a 421: {last:?}"
    );
    assert!(
        c.try_reply().is_none(),
        "{commands:?}: the 421 closes the session"
    );
    for r in &replies[..replies.len() - 1] {
        assert!(
            r.code >= 500,
            "{commands:?}: every other reply is an error: {r:?}"
        );
    }
    replies
}

#[test]
fn unknown_and_failing_commands_end_in_421() {
    let _one = serial();
    let server = Server::start(CONFIG);
    let unknown = until_kicked(&server, false, &["XJUNK nonsense", "FOO", "MAIL"]);
    // Valid verbs, always out of sequence or refused.
    let failing = until_kicked(
        &server,
        true,
        &[
            "RCPT TO:<nobody@local.test>",
            "DATA",
            "MAIL FROM:<bad address>",
        ],
    );
    eprintln!(
        "kicked after {} unknown, {} failing commands",
        unknown.len() - 1,
        failing.len() - 1
    );
    good_client::check(server.port, &server.path("maildirs"), "kick");
}

#[test]
fn pipelined_junk_flood_is_cut_off_and_costs_no_memory() {
    let _one = serial();
    let server = Server::start(CONFIG);
    let mut replies = Vec::new();
    let grown = growth(&server, || {
        replies = blast(&server, false, b"XJUNK nonsense\r\n".repeat(100_000));
    });
    eprintln!("junk flood: {} replies, memory +{grown} KiB", replies.len());
    assert!(
        replies.len() <= ERROR_LIMIT,
        "100,000 junk lines got {} replies: never cut off",
        replies.len()
    );
    assert!(
        codes(&replies).iter().all(|c| *c >= 500 || *c == 421),
        "junk gets errors only: {:?}",
        codes(&replies)
    );
    assert!(
        grown <= MAX_GROWTH_KIB,
        "junk flood grew memory by {grown} KiB"
    );
    good_client::check(server.port, &server.path("maildirs"), "junk");
}

#[test]
fn ten_megabyte_command_lines_get_500_5_5_2_and_cost_no_memory() {
    let _one = serial();
    let server = Server::start(CONFIG);
    let mut results = Vec::new();
    let mut line = b"NOOP ".to_vec();
    line.resize(BIG_LINE, b'A');
    line.extend_from_slice(b"\r\nNOOP\r\n");
    let grown = growth(&server, || {
        // Four at once: a server that buffers whole lines would need 40 MB.
        results = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| sc.spawn(|| blast(&server, true, line.clone())))
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("long-line client"))
                .collect()
        });
    });
    for rs in &results {
        let first = rs.first().expect("a reply to the long line");
        assert_eq!(first.code, 500, "long line: {rs:?}");
        let t = first.text().to_ascii_lowercase();
        assert!(
            t.starts_with("5.5.2") && t.contains("line too long"),
            "long line: {first:?}"
        );
        // Then the session goes on (250 to the NOOP) or is closed.
        assert!(
            codes(&rs[1..]).iter().all(|c| *c == 250 || *c == 421),
            "after the long line: {rs:?}"
        );
    }
    eprintln!("4 x 10 MB command lines: memory +{grown} KiB");
    assert!(
        grown <= MAX_GROWTH_KIB,
        "long lines grew memory by {grown} KiB"
    );
    good_client::check(server.port, &server.path("maildirs"), "long-line");
}

#[test]
fn ten_megabyte_text_line_is_refused_or_kept_whole() {
    let _one = serial();
    let server = Server::start(CONFIG);
    let root = server.path("maildirs");
    let mut c = server.smtp();
    c.set_timeout(Duration::from_secs(60));
    c.hello();
    assert_eq!(c.cmd("MAIL FROM:<big@client.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<bigline@local.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    let mut data = b"Subject: one long line\r\n\r\n".to_vec();
    data.resize(data.len() + BIG_LINE, b'x');
    data.extend_from_slice(b"\r\nend of the long line\r\n.\r\n");
    let mut r = None;
    let grown = growth(&server, || {
        // From a thread: the server may refuse and close before it has read
        // everything, and the reply must still be read.
        let mut w = c.writer.try_clone().expect("clone socket");
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
        r = c.try_reply();
        let _ = writer.join();
    });
    let r = r.expect("a reply to the end of data");
    eprintln!("10 MB text line: {r:?}, memory +{grown} KiB");
    assert!(
        grown <= MAX_GROWTH_KIB,
        "a long text line grew memory by {grown} KiB"
    );
    if r.code == 250 {
        // Accepted: then never truncated.
        let got = maildirs::wait_for(&root, Duration::from_secs(30), |m| {
            maildirs::contains(m, b"Subject: one long line")
        });
        assert_eq!(got.as_deref(), Some("bigline"));
        let m = &support::mailbox::maildir(&root.join("bigline"))[0];
        let longest = m.split(|b| *b == b'\n').map(|l| l.len()).max().unwrap_or(0);
        assert_eq!(longest, BIG_LINE, "the long line must be stored whole");
    } else {
        assert!(r.code >= 500, "the long text line: {r:?}");
    }
    good_client::check(server.port, &root, "long-text-line");
}

/// One command with unusable bytes: it gets a reply (an error where the
/// bytes make the command invalid) and the session goes on.
fn one_bad_command(c: &mut Client, line: &[u8], must_fail: bool) {
    c.send_raw(line);
    c.send_raw(b"\r\n");
    let r = c.reply();
    let shown = String::from_utf8_lossy(line);
    if must_fail {
        assert!(r.code >= 500 && r.code < 600, "{shown:?}: {r:?}");
    } else {
        assert!((200..600).contains(&r.code), "{shown:?}: {r:?}");
    }
}

#[test]
fn nul_bytes_and_invalid_utf8_get_replies_not_crashes() {
    let _one = serial();
    let server = Server::start(CONFIG);
    let root = server.path("maildirs");
    let mut c = server.smtp();
    c.hello();
    let cases: &[(&[u8], bool)] = &[
        (b"EHLO a\0b.test", true),
        (b"HELO \xff\xfe.test", true),
        (b"\0\0\0\0", true),
        (b"NO\0OP", true),
        (b"MAIL FROM:<a\0b@client.test>", true),
        (b"MAIL FROM:<\xc3\x28@client.test> SMTPUTF8", true),
        (b"MAIL FROM:<ok@client.test>", false),
        (b"RCPT TO:<\xed\xa0\x80@local.test>", true),
        (b"RCPT TO:<x@\xff.local.test>", true),
        (b"RCPT TO:<nul\0@local.test>", true),
        (b"NOOP \xff\xff\0", false),
        (b"RSET", false),
    ];
    for (line, must_fail) in cases {
        one_bad_command(&mut c, line, *must_fail);
    }
    // Invalid UTF-8 and a NUL inside a message body (8BITMIME content):
    // the session still works and the message arrives as sent or is refused.
    assert_eq!(c.cmd("MAIL FROM:<ok@client.test> BODY=8BITMIME").code, 250);
    assert_eq!(c.cmd("RCPT TO:<binary@local.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: bytes\r\n\r\nlatin1 caf\xe9, lone \xff, overlong \xc0\xaf\r\n.\r\n");
    let r = c.reply();
    assert_eq!(r.code, 250, "8-bit body: {r:?}");
    c.cmd("QUIT");
    let got = maildirs::wait_for(&root, Duration::from_secs(30), |m| {
        maildirs::contains(m, b"Subject: bytes")
    });
    assert_eq!(got.as_deref(), Some("binary"));
    let m = &support::mailbox::maildir(&root.join("binary"))[0];
    assert!(
        maildirs::contains(m, b"latin1 caf\xe9, lone \xff, overlong \xc0\xaf\n"),
        "8-bit body bytes kept: {:?}",
        String::from_utf8_lossy(m)
    );
    good_client::check(server.port, &root, "bytes");
}
