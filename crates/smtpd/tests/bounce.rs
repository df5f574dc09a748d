//! Reports to senders (the seed's §4.5): a failed, expired or delayed
//! envelope becomes a report envelope on its message; the queue hands the
//! report to smtp through a local session and it is delivered like any
//! mail, here into the sender's Maildir. Each report is read back with
//! Python's `email` module: a `multipart/report; report-type=
//! delivery-status` with a text part, a `message/delivery-status` part and
//! the original (or its header).
//!
//! Every test waits for the report's grouping delay (2 s) once; the expiry
//! and delay tests use a `ttl` and a `bounce warn-interval` of seconds.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::local::{queued_envelopes, script, start_with, wait_count, wait_queue_empty};
use support::{eventually, message, pymail, Options, Server};

/// The sender: a local user with a Maildir.
const SENDER: &str = "ann@local.test";

/// `fail.test` runs a program that exits 1, `slow.test` one that exits 75
/// (temporary) under an action ttl of 3 s, `wait.test` the same under the
/// default ttl, `local.test` is a Maildir per user. Reports come through
/// the queue's local session, so `from socket` holds for them: they land
/// in `mail/reports/USER`, other mail in `mail/USER`.
const CONF: &str = r#"table vt { "@" = "joe" }
listen on 127.0.0.1 port {PORT}
action "fail" mda "{DIR}/fail.sh" virtual <vt> userbase <users>
action "slow" mda "{DIR}/slow.sh" virtual <vt> userbase <users> ttl 3s
action "wait" mda "{DIR}/slow.sh" virtual <vt> userbase <users>
action "box" maildir "{DIR}/mail/%{dest.user}" userbase <users>
action "reports" maildir "{DIR}/mail/reports/%{dest.user}" userbase <users>
match from any for domain "fail.test" action "fail"
match from any for domain "slow.test" action "slow"
match from any for domain "wait.test" action "wait"
match from socket for domain "local.test" action "reports"
match from any for domain "local.test" action "box"
"#;

fn start(extra: &str) -> Option<Server> {
    if !pymail::available() {
        eprintln!("skipped: python3 with the email module is needed to read reports");
        return None;
    }
    let conf = format!("{extra}{CONF}");
    Some(start_with(&conf, Options::default(), |dir| {
        script(
            &dir.join("fail.sh"),
            "echo 'starting' >&2\necho 'mailbox is on fire' >&2\nexit 1\n",
        );
        script(
            &dir.join("slow.sh"),
            "echo 'try again later' >&2\nexit 75\n",
        );
    }))
}

/// One transaction with raw MAIL and RCPT arguments (`<addr> PARAMS`).
fn submit(s: &Server, mail: &str, rcpts: &[&str], msg: &[u8]) {
    let mut c = s.smtp();
    c.hello();
    let r = c.cmd(&format!("MAIL FROM:{mail}"));
    assert_eq!(r.code, 250, "MAIL: {r:?}");
    for rc in rcpts {
        let r = c.cmd(&format!("RCPT TO:{rc}"));
        assert_eq!(r.code, 250, "RCPT {rc}: {r:?}");
    }
    let r = c.cmd("DATA");
    assert_eq!(r.code, 354, "DATA: {r:?}");
    c.send_raw(&message::data_bytes(msg));
    let r = c.reply();
    assert_eq!(r.code, 250, "end of data: {r:?}");
    c.cmd("QUIT");
}

fn maildir_of(s: &Server, user: &str) -> std::path::PathBuf {
    s.path(&format!("mail/{user}"))
}

fn reports_of(s: &Server, user: &str) -> std::path::PathBuf {
    s.path(&format!("mail/reports/{user}"))
}

/// Wait for `n` messages in the sender's Maildir and an empty queue, then
/// return the messages (exactly `n`).
fn reports(s: &Server, n: usize) -> Vec<pymail::Mail> {
    let dir = reports_of(s, "ann");
    if !eventually(Duration::from_secs(20), || pymail::maildir(&dir).len() >= n) {
        panic!("no report in {}; log:\n{}", dir.display(), s.log.text());
    }
    wait_queue_empty(s);
    let got = pymail::maildir(&dir);
    assert_eq!(got.len(), n, "{got:?}");
    got
}

/// A report as Python's `email` module reads it, flattened to `key →
/// value`: `ct`, `report-type`, `h.NAME` (header), `pN.type`, `pN.text`,
/// `pN.bK.FIELD` (delivery-status block K), `pN.h.NAME` and `pN.body` (an
/// attached message).
struct Dsn(HashMap<String, String>);

const PARSE: &str = r#"
import email, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
out = []
def put(k, v):
    out.append(k.encode().hex() + " " + str(v).encode("utf-8", "surrogateescape").hex())
put("ct", m.get_content_type())
put("report-type", m.get_param("report-type") or "")
put("defects", len(m.defects))
for k, v in m.items():
    put("h." + k, v)
for i, p in enumerate(m.get_payload() if m.is_multipart() else []):
    ct = p.get_content_type()
    put("p%d.type" % i, ct)
    if ct == "message/delivery-status":
        for j, b in enumerate(p.get_payload()):
            for k, v in b.items():
                put("p%d.b%d.%s" % (i, j, k), v)
    elif ct == "message/rfc822":
        inner = p.get_payload(0)
        for k, v in inner.items():
            put("p%d.h.%s" % (i, k), v)
        put("p%d.body" % i, inner.get_payload())
    else:
        put("p%d.text" % i, p.get_payload())
print("\n".join(out))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

impl Dsn {
    fn parse(raw: &[u8]) -> Dsn {
        let mut child = Command::new("python3")
            .args(["-c", PARSE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python could not read the report: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut map = HashMap::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            let k = String::from_utf8(unhex(k)).unwrap();
            let v = String::from_utf8_lossy(&unhex(v)).into_owned();
            // The first of repeated header fields is the one we want.
            map.entry(k).or_insert(v);
        }
        Dsn(map)
    }

    fn get(&self, k: &str) -> &str {
        self.0
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} in {:#?}", self.0))
    }

    fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }

    /// The structure every report has, for `action` (`failed`, …).
    fn check_frame(&self, action: &str) {
        assert_eq!(self.get("ct"), "multipart/report");
        assert_eq!(self.get("report-type"), "delivery-status");
        assert_eq!(self.get("defects"), "0", "{:#?}", self.0);
        assert!(
            self.get("h.From").contains("MAILER-DAEMON@"),
            "{:#?}",
            self.0
        );
        assert_eq!(self.get("h.To"), format!("<{SENDER}>"));
        assert_eq!(
            self.get("h.Subject"),
            format!("Delivery status notification: {action}")
        );
        assert_eq!(self.get("h.Auto-Submitted"), "auto-replied");
        assert!(self.has("h.Message-ID") && self.has("h.Date"));
        assert_eq!(self.get("h.Return-Path"), "<>", "sent from the null sender");
        assert_eq!(self.get("p0.type"), "text/plain");
        assert_eq!(self.get("p1.type"), "message/delivery-status");
        assert!(self.get("p1.b0.Reporting-MTA").starts_with("dns; "));
        assert!(self.has("p1.b0.Arrival-Date"));
    }

    /// The delivery-status block of recipient `i` (1-based: block 0 is the
    /// per-message one).
    fn rcpt(&self, i: usize, field: &str) -> &str {
        self.get(&format!("p1.b{i}.{field}"))
    }
}

/// A local program that exits 1: the sender gets one report naming the
/// recipient, with a 5.x.x status, the program's error line and the whole
/// original message; nothing is left in the queue.
#[test]
fn failure_is_reported_once_with_the_original() {
    let Some(s) = start("") else { return };
    let body = message::tricky_body();
    let msg = message::message(SENDER, "x@fail.test", "doomed", &body);
    submit(
        &s,
        &format!("<{SENDER}> ENVID=env-42"),
        &["<x@fail.test> ORCPT=rfc822;X+2Borig@fail.test"],
        &msg,
    );
    let got = reports(&s, 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("failed");
    assert_eq!(dsn.get("p1.b0.Original-Envelope-Id"), "env-42");
    assert_eq!(dsn.rcpt(1, "Final-Recipient"), "rfc822; x@fail.test");
    assert_eq!(
        dsn.rcpt(1, "Original-Recipient"),
        "rfc822; X+orig@fail.test"
    );
    assert_eq!(dsn.rcpt(1, "Action"), "failed");
    assert!(dsn.rcpt(1, "Status").starts_with("5."), "{:#?}", dsn.0);
    let diag = dsn.rcpt(1, "Diagnostic-Code");
    assert!(
        diag.starts_with("smtp; 5") && diag.contains("mailbox is on fire"),
        "{diag}"
    );
    assert!(!dsn.has("p1.b1.Will-Retry-Until"));
    assert!(dsn.has("p1.b1.Last-Attempt-Date"));
    let text = dsn.get("p0.text");
    assert!(
        text.contains("x@fail.test") && text.contains("mailbox is on fire"),
        "{text}"
    );
    assert_eq!(dsn.get("p2.type"), "message/rfc822");
    assert_eq!(dsn.get("p2.h.Subject"), "doomed");
    // Python shows 8-bit bytes of a part as U+FFFD: compare its view for
    // the frame, the raw report for the bytes.
    let seen = dsn.get("p2.body");
    assert!(
        seen.starts_with("First line.\n.leading dot\n..two dots\n.\nFrom the start")
            && seen.ends_with("\n\nLast line.\n"),
        "{seen:?}"
    );
    assert!(
        got[0].raw.windows(body.len()).any(|w| w == &body[..]),
        "the original body, byte for byte"
    );
    let log = s.log.text();
    assert!(log.contains("failed permanently"), "{log}");
    assert!(log.contains("smtp connected address=local"), "{log}");
    assert_eq!(s.log.count("for 1 envelope(s) injected"), 1, "{log}");
}

/// Two failed recipients of one message: one report lists both.
#[test]
fn failures_of_one_message_make_one_report() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "x@fail.test", "two", b"hello\n");
    submit(
        &s,
        &format!("<{SENDER}>"),
        &["<x@fail.test>", "<y@fail.test>"],
        &msg,
    );
    let got = reports(&s, 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("failed");
    let mut finals = vec![
        dsn.rcpt(1, "Final-Recipient").to_string(),
        dsn.rcpt(2, "Final-Recipient").to_string(),
    ];
    finals.sort();
    assert_eq!(finals, ["rfc822; x@fail.test", "rfc822; y@fail.test"]);
    assert!(!dsn.has("p1.b3.Final-Recipient"));
    let text = dsn.get("p0.text");
    assert!(text.contains("x@fail.test") && text.contains("y@fail.test"));
    assert_eq!(
        s.log.count("for 2 envelope(s) injected"),
        1,
        "{}",
        s.log.text()
    );
}

/// RET=HDRS: the report carries the original's header only.
#[test]
fn ret_hdrs_returns_the_header_only() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "x@fail.test", "headers-only", b"secret body\n");
    submit(
        &s,
        &format!("<{SENDER}> RET=HDRS"),
        &["<x@fail.test>"],
        &msg,
    );
    let got = reports(&s, 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("failed");
    assert_eq!(dsn.get("p2.type"), "text/rfc822-headers");
    let h = dsn.get("p2.text");
    assert!(h.contains("Subject: headers-only"), "{h}");
    assert!(!h.contains("secret body"), "{h}");
    assert!(!String::from_utf8_lossy(&got[0].raw).contains("secret body"));
}

/// A failing message from the null sender is never reported: it is
/// dropped with a log line.
#[test]
fn null_sender_failure_is_dropped() {
    let Some(s) = start("") else { return };
    let msg = message::message("", "x@fail.test", "from-nobody", b"hi\n");
    submit(&s, "<>", &["<x@fail.test>"], &msg);
    wait_count(&s, "no report (", 1, Duration::from_secs(15));
    wait_queue_empty(&s);
    let log = s.log.text();
    assert!(
        log.lines()
            .any(|l| l.contains("failed permanently") && l.contains("no report (the sender is <>)")),
        "{log}"
    );
    assert_eq!(s.log.count("smtp connected address=local"), 0, "{log}");
}

/// NOTIFY=NEVER: no report.
#[test]
fn notify_never_means_no_report() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "x@fail.test", "never", b"hi\n");
    submit(
        &s,
        &format!("<{SENDER}>"),
        &["<x@fail.test> NOTIFY=NEVER"],
        &msg,
    );
    wait_count(&s, "no report (NOTIFY=NEVER)", 1, Duration::from_secs(15));
    wait_queue_empty(&s);
    assert!(pymail::maildir(&reports_of(&s, "ann")).is_empty());
    assert_eq!(s.log.count("smtp connected address=local"), 0);
}

/// An envelope retried until its action's ttl (3 s) passes: an "Envelope
/// expired" report with the last error.
#[test]
fn expiry_is_reported() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "z@slow.test", "too-slow", b"hi\n");
    submit(&s, &format!("<{SENDER}>"), &["<z@slow.test>"], &msg);
    let got = reports(&s, 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("failed");
    assert_eq!(dsn.rcpt(1, "Final-Recipient"), "rfc822; z@slow.test");
    assert_eq!(dsn.rcpt(1, "Status"), "5.4.7");
    let diag = dsn.rcpt(1, "Diagnostic-Code");
    assert!(
        diag.contains("Envelope expired") && diag.contains("try again later"),
        "{diag}"
    );
    assert!(s.log.text().contains("expired"));
}

/// `bounce warn-interval 2s` and NOTIFY=DELAY: a delay notice while the
/// message stays queued for its retries.
#[test]
fn delay_notice() {
    let Some(s) = start("bounce warn-interval 2s\n") else {
        return;
    };
    let msg = message::message(SENDER, "w@wait.test", "waiting", b"hi\n");
    submit(
        &s,
        &format!("<{SENDER}>"),
        &["<w@wait.test> NOTIFY=DELAY,FAILURE"],
        &msg,
    );
    let dir = reports_of(&s, "ann");
    if !eventually(Duration::from_secs(20), || {
        !pymail::maildir(&dir).is_empty()
    }) {
        panic!("no delay notice; log:\n{}", s.log.text());
    }
    let got = pymail::maildir(&dir);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("delayed");
    assert_eq!(dsn.rcpt(1, "Action"), "delayed");
    assert!(dsn.rcpt(1, "Status").starts_with("4."), "{:#?}", dsn.0);
    assert!(dsn.rcpt(1, "Diagnostic-Code").contains("try again later"));
    assert!(dsn.has("p1.b1.Will-Retry-Until"));
    assert_eq!(dsn.get("p2.type"), "text/rfc822-headers");
    assert!(dsn.get("p0.text").contains("w@wait.test"));
    // The original is still queued, its warning recorded.
    let envs = queued_envelopes(&s);
    assert!(
        envs.iter().any(|p| {
            let f = std::fs::read_to_string(p).unwrap_or_default();
            f.contains("rcpt: w@wait.test")
                && f.contains("type: mda")
                && !f.contains("last-bounce: 0\n")
        }),
        "{envs:?}"
    );
}

/// A report nobody accepts (no rule takes the sender's domain) is dropped
/// with a log line: a report is never reported on.
#[test]
fn undeliverable_report_is_dropped() {
    let Some(s) = start("") else { return };
    let from = "alice@nowhere.test";
    let msg = message::message(from, "x@fail.test", "lost", b"hi\n");
    submit(&s, &format!("<{from}>"), &["<x@fail.test>"], &msg);
    wait_count(&s, "dropped", 1, Duration::from_secs(15));
    wait_queue_empty(&s);
    let log = s.log.text();
    assert!(
        log.lines()
            .any(|l| l.contains("PermFail injecting the report")
                && l.contains("<alice@nowhere.test>")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("report")
            && l.contains("failed permanently")
            && l.contains("dropped")),
        "{log}"
    );
    assert_eq!(s.log.count("smtp message"), 1, "only the original: {log}");
}

/// NOTIFY=SUCCESS on a local delivery: a "delivered" notice, with the
/// original's header.
#[test]
fn success_notice_on_request() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "bob@local.test", "arrived", b"hi\n");
    submit(
        &s,
        &format!("<{SENDER}>"),
        &["<bob@local.test> NOTIFY=SUCCESS"],
        &msg,
    );
    let got = reports(&s, 1);
    assert_eq!(pymail::maildir(&maildir_of(&s, "bob")).len(), 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("delivered");
    assert_eq!(dsn.rcpt(1, "Action"), "delivered");
    assert_eq!(dsn.rcpt(1, "Status"), "2.0.0");
    assert_eq!(dsn.get("p2.type"), "text/rfc822-headers");
}

/// NOTIFY=SUCCESS survives a restart: the queue learns which envelopes
/// want a success notice from the spool at start (it reads a delivered
/// envelope back only for those), so the notice still comes.
#[test]
fn success_notice_after_a_restart() {
    if !pymail::available() {
        return;
    }
    let conf = format!("{}{CONF}", support::local::users_table());
    let paused = Options {
        args: vec!["-P".into(), "mda".into()],
        ..Options::default()
    };
    let s = start_with(CONF, paused, |_| {});
    let msg = message::message(SENDER, "bob@local.test", "later", b"hi\n");
    submit(
        &s,
        &format!("<{SENDER}>"),
        &["<bob@local.test> NOTIFY=SUCCESS"],
        &msg,
    );
    assert_eq!(queued_envelopes(&s).len(), 1);
    let dir = s.stop_keep_dir();
    let opts = Options {
        args: support::nodns::args(),
        ..Options::default()
    };
    let s = Server::start_in(dir, &conf, opts);
    let got = reports(&s, 1);
    assert_eq!(pymail::maildir(&maildir_of(&s, "bob")).len(), 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("delivered");
    assert_eq!(dsn.rcpt(1, "Action"), "delivered");
}

/// Privileged (root only): the queue chrooted into the spool as `_smtpq`,
/// smtp in its empty chroot as `_smtpd`; the session socket and the
/// message file cross between them as descriptors, and the report lands
/// in the sender's Maildir with the sender's ownership.
#[test]
fn privileged_report_reaches_a_system_user() {
    let Some((u1, u2, _)) = support::sysusers::setup("privileged_report_reaches_a_system_user")
    else {
        return;
    };
    if !pymail::available() {
        return;
    }
    let conf = r#"listen on 127.0.0.1 port {PORT}
action "fail" mda "echo 'no such mailbox here' >&2; exit 1" userbase <realusers>
action "box" maildir "%{user.directory}/Maildir" userbase <realusers>
match from any for domain "fail.test" action "fail"
match from any for domain "local.test" action "box"
"#;
    let s = support::sysusers::start(conf, &[&u1, &u2], |_| {});
    let from = format!("{}@local.test", u1.name);
    let to = format!("{}@fail.test", u2.name);
    let msg = message::message(&from, &to, "privileged", b"hi\n");
    submit(&s, &format!("<{from}>"), &[&format!("<{to}>")], &msg);
    let md = s.path(&format!("home/{}/Maildir", u1.name));
    if !eventually(Duration::from_secs(20), || !pymail::maildir(&md).is_empty()) {
        panic!("no report; log:\n{}", s.log.text());
    }
    wait_queue_empty(&s);
    let got = pymail::maildir(&md);
    assert_eq!(got.len(), 1);
    let dsn = Dsn::parse(&got[0].raw);
    assert_eq!(dsn.get("h.To"), format!("<{from}>"));
    assert_eq!(dsn.rcpt(1, "Final-Recipient"), format!("rfc822; {to}"));
    assert!(dsn
        .rcpt(1, "Diagnostic-Code")
        .contains("no such mailbox here"));
    for f in support::sysusers::maildir_files(&md) {
        assert_eq!(support::sysusers::owner(&f), (u1.uid, u1.gid));
    }
}

/// The report envelope is durable: a crash while the report waits for more
/// envelopes of its message loses nothing, and the restarted server sends
/// the report once.
#[test]
fn report_survives_a_crash() {
    let Some(s) = start("") else { return };
    let msg = message::message(SENDER, "x@fail.test", "crash", b"hi\n");
    submit(&s, &format!("<{SENDER}>"), &["<x@fail.test>"], &msg);
    wait_count(&s, "failed permanently", 1, Duration::from_secs(15));
    // Within the grouping delay: nothing was injected yet.
    let dir = s.stop_keep_dir();
    let conf = format!("{}{CONF}", support::local::users_table());
    let opts = Options {
        args: support::nodns::args(),
        ..Options::default()
    };
    let s = Server::start_in(dir, &conf, opts);
    let got = reports(&s, 1);
    let dsn = Dsn::parse(&got[0].raw);
    dsn.check_frame("failed");
    assert_eq!(dsn.rcpt(1, "Final-Recipient"), "rfc822; x@fail.test");
    assert!(dsn
        .rcpt(1, "Diagnostic-Code")
        .contains("mailbox is on fire"));
    assert!(
        s.log.text().contains("loaded 1 envelope(s)"),
        "{}",
        s.log.text()
    );
}
