//! External filters (`proc-exec`, `proc` + `filter NAME proc`) over real
//! sessions: a Python filter written by the test speaks the 0.7 line
//! protocol; it adds a header through `data-line`, refuses or ends a
//! session at `rcpt-to`, and writes every report line to a file. A filter
//! that dies stops the server, as in OpenSMTPD. A relay action's filter
//! hears the smtp-out reports of its sessions.

mod support;

use std::time::Duration;
use support::local::{users_table, wait_delivered};
use support::{eventually, pymail, Options, Server};

const FROM: &str = "sender@remote.test";

const FILTER: &str = r#"import sys
# Message lines are bytes: 8-bit content must come back unchanged.
sys.stdin.reconfigure(errors="surrogateescape")
sys.stdout.reconfigure(errors="surrogateescape")
reports = sys.argv[1]
def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
for line in sys.stdin:
    if line.rstrip("\n") == "config|ready":
        break
say("register|filter|smtp-in|data-line")
say("register|filter|smtp-in|rcpt-to")
say("register|report|smtp-in|*")
say("register|report|smtp-out|*")
say("register|ready")
sys.stderr.write("filter ready\n")
sys.stderr.flush()
started = set()
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    if f[0] == "report":
        with open(reports, "a") as out:
            out.write("|".join(f) + "\n")
    elif f[0] == "filter":
        phase, sid, tok = f[4], f[5], f[6]
        if phase == "rcpt-to":
            rcpt = f[7]
            if rcpt.startswith("nobody@"):
                say("filter-result|%s|%s|reject|550 5.1.1 no such user here" % (sid, tok))
            elif rcpt.startswith("bye@"):
                say("filter-result|%s|%s|disconnect|421 4.7.0 filter says bye" % (sid, tok))
            elif rcpt.startswith("crash@"):
                sys.exit(3)
            else:
                say("filter-result|%s|%s|proceed" % (sid, tok))
        elif phase == "data-line":
            if tok not in started:
                started.add(tok)
                say("filter-dataline|%s|%s|X-Filtered: by the test" % (sid, tok))
            say("filter-dataline|%s|%s|%s" % (sid, tok, "|".join(f[7:])))
"#;

/// A server whose listener uses the test's filter, declared as
/// `filter_decl` (which names the filter `f`).
fn start(filter_decl: &str) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    for u in support::local::USERS {
        std::fs::create_dir_all(dir.path().join("home").join(u)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    std::fs::write(dir.path().join("filter.py"), FILTER).unwrap();
    let config = format!(
        "{}{filter_decl}\n\
         listen on 127.0.0.1 port {{PORT}} filter f\n\
         action \"md\" maildir userbase <users>\n\
         match from any for domain \"local.test\" action \"md\"\n",
        users_table()
    );
    Server::start_in(
        dir,
        &config,
        Options {
            args: support::nodns::args(),
            ..Default::default()
        },
    )
}

const PROC_EXEC: &str = r#"filter f proc-exec "python3 -u {DIR}/filter.py {DIR}/reports""#;

fn reports(s: &Server) -> String {
    std::fs::read_to_string(s.path("reports")).unwrap_or_default()
}

#[test]
fn proc_exec_filter_adds_a_header_refuses_a_recipient_and_hears_reports() {
    let s = start(PROC_EXEC);
    let mut c = s.smtp();
    c.hello();
    assert_eq!(c.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    let r = c.cmd("RCPT TO:<nobody@local.test>");
    assert_eq!(
        (r.code, r.text().as_str()),
        (550, "5.1.1 no such user here")
    );
    assert_eq!(c.cmd("RCPT TO:<joe@local.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: filtered\r\n\r\nline one\r\n..dotted\r\ncaf\xe9 8-bit\r\n.\r\n");
    let r = c.reply();
    assert_eq!(r.code, 250, "{r:?}");
    c.cmd("QUIT");
    wait_delivered(&s, 1);
    let joe = pymail::maildir(&s.path("home/joe/Maildir"));
    assert_eq!(joe.len(), 1);
    assert_eq!(joe[0].header("X-Filtered"), Some("by the test"));
    assert_eq!(joe[0].header("Subject"), Some("filtered"));
    assert_eq!(joe[0].body(), b"line one\n.dotted\ncaf\xe9 8-bit\n");

    // The report lines, in order, for the session.
    assert!(
        eventually(Duration::from_secs(10), || reports(&s)
            .contains("|link-disconnect|")),
        "reports: {}",
        reports(&s)
    );
    let text = reports(&s);
    let events: Vec<&str> = text
        .lines()
        .map(|l| l.split('|').nth(4).unwrap_or(""))
        .collect();
    for e in [
        "link-connect",
        "link-greeting",
        "link-identify",
        "tx-data",
        "tx-begin",
        "tx-mail",
        "tx-rcpt",
        "tx-commit",
        "link-disconnect",
    ] {
        assert!(events.contains(&e), "{e} missing: {text}");
    }
    let pos = |e: &str| events.iter().position(|x| *x == e).unwrap();
    assert!(pos("link-connect") < pos("tx-begin"));
    assert!(pos("tx-commit") < pos("link-disconnect"));
    assert!(text.lines().all(|l| l.starts_with("report|0.7|")), "{text}");
    assert!(text.contains("|tx-rcpt|"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("|tx-rcpt|") && l.ends_with("|permfail|nobody@local.test")),
        "{text}"
    );
    // The filter's stderr is logged under its name.
    assert!(s
        .log
        .wait_for("filter f: filter ready", Duration::from_secs(5)));
}

#[test]
fn proc_filter_disconnect_ends_the_session_and_rollback_is_reported() {
    let s = start(
        r#"proc p "python3 -u {DIR}/filter.py {DIR}/reports"
filter f proc p"#,
    );
    let mut c = s.smtp();
    c.set_timeout(Duration::from_secs(10));
    c.hello();
    assert_eq!(c.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    let r = c.cmd("RCPT TO:<bye@local.test>");
    assert_eq!((r.code, r.text().as_str()), (421, "4.7.0 filter says bye"));
    assert_eq!(c.read_to_end(), "", "the session ends");
    assert!(
        eventually(Duration::from_secs(10), || reports(&s)
            .contains("|link-disconnect|")),
        "reports: {}",
        reports(&s)
    );
    assert!(reports(&s).contains("|tx-rollback|"), "{}", reports(&s));
    // The server goes on serving.
    let mut c2 = s.smtp();
    c2.hello();
}

#[test]
fn a_filter_that_dies_stops_the_server() {
    let mut s = start(PROC_EXEC);
    let mut c = s.smtp();
    c.set_timeout(Duration::from_secs(20));
    c.hello();
    assert_eq!(c.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    c.line("RCPT TO:<crash@local.test>");
    let st = s
        .wait_exit(Duration::from_secs(30))
        .expect("the server stops");
    assert!(!st.success(), "{st:?}");
    // The server is gone, but the log reader may not have read its last
    // lines yet.
    for needle in ["filter f exited", "child mfa"] {
        assert!(
            s.log.wait_for(needle, Duration::from_secs(10)),
            "{}",
            s.log.text()
        );
    }
}

/// Privilege-separated: the parent starts the filter as `_smtpd`, and the
/// chrooted mfa speaks to it over the pipes it was handed.
#[test]
fn privileged_filter_runs_as_the_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    if !support::is_root() {
        eprintln!("skipped: privilege separation needs root");
        return;
    }
    let Some(smtpd_user) = support::accounts::lookup("_smtpd") else {
        eprintln!("skipped: user _smtpd missing (.ci/setup-machine.sh)");
        return;
    };
    if support::accounts::lookup("_smtpq").is_none() {
        eprintln!("skipped: user _smtpq missing (.ci/setup-machine.sh)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    let open = |p: &std::path::Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(dir.path(), 0o755);
    std::fs::write(dir.path().join("filter.py"), FILTER).unwrap();
    open(&dir.path().join("filter.py"), 0o644);
    std::fs::create_dir(dir.path().join("out")).unwrap();
    open(&dir.path().join("out"), 0o777);
    let s = Server::start_in(
        dir,
        r#"filter f proc-exec "python3 -u {DIR}/filter.py {DIR}/out/reports"
listen on 127.0.0.1 port {PORT} filter f
action "local" maildir "{DIR}/mail"
match from any for domain "local.test" action "local"
"#,
        Options {
            args: support::dns::no_names(),
            privileged: true,
            ..Default::default()
        },
    );
    let mut c = s.smtp();
    c.hello();
    assert_eq!(c.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    let r = c.cmd("RCPT TO:<nobody@local.test>");
    assert_eq!(r.code, 550, "{r:?}");
    c.cmd("QUIT");
    let log = s.log.text();
    let pid: u32 = log
        .split("filter f started (pid ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no filter start in the log: {log}"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let uids: Vec<&str> = uid_line.split_whitespace().skip(1).collect();
    let want = smtpd_user.0.to_string();
    assert!(uids.iter().all(|u| *u == want), "{uid_line}");
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(
            s.path("out/reports")
        )
        .is_ok_and(|t| t.contains("|link-disconnect|"))),
        "no reports"
    );
}

/// `action … relay … filter f`: the relay sessions are reported to the
/// filter as smtp-out events.
#[test]
fn relay_action_filter_hears_smtp_out_reports() {
    use support::sink::{Sink, SinkOptions};
    let sink = Sink::start(SinkOptions::default());
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    std::fs::write(dir.path().join("filter.py"), FILTER).unwrap();
    let config = format!(
        "filter f proc-exec \"python3 -u {{DIR}}/filter.py {{DIR}}/reports\"\n\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp://127.0.0.1:{} filter f\n\
         match from any for domain \"remote.test\" action \"out\"\n",
        sink.port()
    );
    let s = Server::start_in(
        dir,
        &config,
        Options {
            args: support::nodns::args(),
            ..Default::default()
        },
    );
    let msg = support::message::message(FROM, "far@remote.test", "out", b"relayed\n");
    support::message::send_one(s.port, FROM, &["far@remote.test"], &msg);
    assert!(
        eventually(Duration::from_secs(20), || sink.received().len() == 1),
        "relayed"
    );
    let want = [
        "|smtp-out|link-connect|",
        "|smtp-out|tx-begin|",
        "|smtp-out|tx-mail|",
        "|smtp-out|tx-rcpt|",
    ];
    assert!(
        eventually(Duration::from_secs(10), || {
            let t = reports(&s);
            want.iter().all(|w| t.contains(w))
        }),
        "reports: {}",
        reports(&s)
    );
    let text = reports(&s);
    assert!(
        text.lines()
            .any(|l| l.contains("|smtp-out|tx-rcpt|") && l.ends_with("|ok|far@remote.test")),
        "{text}"
    );
    // The smtp-in session was not filtered (the listener has no filter).
    assert!(!text.contains("|smtp-in|"), "{text}");
}

/// A filter program that is gone before its handshake stops the server at
/// start, naming the filter.
#[test]
fn a_filter_that_cannot_start_stops_the_server() {
    let mut s = Server::start_opts(
        r#"filter f proc-exec "exit 3"
listen on 127.0.0.1 port {PORT} filter f
action "local" maildir "{DIR}/mail"
match from any for domain "local.test" action "local"
"#,
        Options {
            args: support::nodns::args(),
            wait_ready: false,
            ..Default::default()
        },
    );
    let st = s
        .wait_exit(Duration::from_secs(30))
        .expect("the server stops");
    assert!(!st.success(), "{st:?}");
    // The server is gone, but the log reader may not have read its last
    // lines yet.
    for needle in ["filter f", "child mfa"] {
        assert!(
            s.log.wait_for(needle, Duration::from_secs(10)),
            "{}",
            s.log.text()
        );
    }
}
