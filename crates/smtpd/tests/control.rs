//! smtpctl against a running server: the real `smtpd` and the real
//! `smtpctl` binary talking over the control socket. `show queue` (in
//! OpenSMTPD's format), `show envelope|message|stats|status`, pause and
//! resume of mda and smtp, `schedule` (a failed delivery is retried at
//! once instead of at its backoff), `remove`, `monitor`, `log
//! verbose|brief`, and the commands we do not have yet.
//!
//! The faces (sendmail, mailq, newaliases, makemap) and `show queue` with
//! the daemon down are in tests/control_faces.rs.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::local::{fill, queued_envelopes, script, start, start_with, wait_count};
use support::message::{message, send_one};
use support::sink::{Sink, SinkOptions};
use support::smtpctl::{self as ctl, queue_lines};
use support::{eventually, mailbox, Options, Server};

const FROM: &str = "alice@remote.test";

const LOCAL: &str = r#"listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/mail/%{user.username}" userbase <users>
match from any for domain "local.test" action "local"
"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A server whose local deliveries are paused (`smtpd -P mda`): mail
/// stays queued.
fn held() -> Server {
    let opts = Options {
        args: vec!["-P".into(), "mda".into()],
        ..Options::default()
    };
    start_with(LOCAL, opts, |_| {})
}

fn send(s: &Server, rcpts: &[&str], subject: &str) {
    let msg = message(FROM, rcpts[0], subject, b"hello\n");
    send_one(s.port, FROM, rcpts, &msg);
}

/// `show queue` once it lists `n` envelopes (the scheduler hears of a
/// commit just before the client gets its 250).
fn queue_of(s: &Server, n: usize) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    let found = eventually(Duration::from_secs(10), || {
        lines = queue_lines(&ctl::ok(s, &["show", "queue"]));
        lines.len() == n
    });
    assert!(found, "show queue never listed {n} envelope(s): {lines:?}");
    lines
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn envelope_file(s: &Server, evpid: &str) -> Option<PathBuf> {
    queued_envelopes(s)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == evpid))
}

#[test]
fn show_queue_envelope_and_message() {
    let s = held();
    let before = now();
    send(&s, &["joe@local.test", "ann@local.test"], "listed");
    let lines = queue_of(&s, 2);
    let mut rcpts = Vec::new();
    for f in &lines {
        assert_eq!(f.len(), 14, "{f:?}");
        assert!(
            f[0].len() == 16 && u64::from_str_radix(&f[0], 16).is_ok(),
            "{f:?}"
        );
        assert_eq!(&f[1..5], ["inet4", "mda", "hold", FROM], "{f:?}");
        assert_eq!(f[5], f[6], "rcpt and dest: {f:?}");
        rcpts.push(f[5].clone());
        let ctime: u64 = f[7].parse().unwrap();
        assert!(ctime >= before && ctime <= now(), "{f:?}");
        // The default `queue ttl` is 4 days.
        assert_eq!(f[8].parse::<u64>().unwrap(), ctime + 4 * 86_400, "{f:?}");
        assert_eq!(&f[9..12], ["0", "0", "pending"], "{f:?}");
        assert!(f[12].parse::<i64>().is_ok(), "{f:?}");
        assert_eq!(f[13], "", "{f:?}");
    }
    rcpts.sort();
    assert_eq!(rcpts, ["ann@local.test", "joe@local.test"]);
    assert!(lines[0][0] < lines[1][0], "listed in id order");
    let msgid = &lines[0][0][..8];
    assert_eq!(&lines[1][0][..8], msgid, "one message");

    // Abbreviated, and for one message only.
    let short = queue_lines(&ctl::ok(&s, &["sh", "q"]));
    assert_eq!(short.len(), 2);
    assert_eq!(short[0][..12], lines[0][..12]);
    assert_eq!(
        queue_lines(&ctl::ok(&s, &["show", "queue", msgid])).len(),
        2
    );
    assert_eq!(ctl::ok(&s, &["show", "queue", "00000001"]), "");

    // show envelope: the envelope file as the queue holds it.
    let evpid = &lines[0][0];
    let file = envelope_file(&s, evpid).expect("the envelope file");
    let text = ctl::ok(&s, &["show", "envelope", evpid]);
    assert_eq!(text, std::fs::read_to_string(&file).unwrap());
    assert!(
        text.contains("version: 3\n") && text.contains("type: mda\n"),
        "{text}"
    );

    // show message, by message or envelope id: the message file.
    let content = std::fs::read_to_string(file.with_file_name("message")).unwrap();
    assert!(content.contains("Subject: listed"), "{content}");
    assert_eq!(ctl::ok(&s, &["show", "message", msgid]), content);
    assert_eq!(ctl::ok(&s, &["show", "message", evpid]), content);

    let gone = ctl::run(&s, &["show", "envelope", "0000000100000001"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).contains("not in the queue"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn remove_takes_envelopes_out_of_the_spool() {
    let s = held();
    send(&s, &["joe@local.test", "ann@local.test"], "first");
    send(&s, &["bob@local.test"], "second");
    let lines = queue_of(&s, 3);
    let joe = lines.iter().find(|f| f[5] == "joe@local.test").unwrap()[0].clone();
    let bob = lines.iter().find(|f| f[5] == "bob@local.test").unwrap()[0].clone();
    let bob_dir = envelope_file(&s, &bob)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();

    assert_eq!(ctl::ok(&s, &["remove", &joe]), "1 envelope removed\n");
    assert!(eventually(Duration::from_secs(10), || envelope_file(
        &s, &joe
    )
    .is_none()));
    queue_of(&s, 2);

    assert_eq!(ctl::ok(&s, &["remove", &bob[..8]]), "1 envelope removed\n");
    assert!(
        eventually(Duration::from_secs(10), || !bob_dir.exists()),
        "the message goes with its last envelope"
    );
    assert_eq!(ctl::ok(&s, &["rem", "all"]), "1 envelope removed\n");
    assert!(eventually(Duration::from_secs(10), || queued_envelopes(&s).is_empty()));
    assert_eq!(ctl::ok(&s, &["show", "queue"]), "");
    assert_eq!(ctl::ok(&s, &["remove", "all"]), "0 envelope removed\n");
    assert!(s.log.text().contains(&format!("queue: {joe} removed")));
}

#[test]
fn pause_and_resume_mda() {
    let s = held();
    assert_eq!(
        ctl::ok(&s, &["show", "status"]),
        "MDA paused\nMTA running\nSMTP running\n"
    );
    send(&s, &["joe@local.test"], "held");
    queue_of(&s, 1);
    let again = ctl::run(&s, &["pause", "mda"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already paused"),
        "{}",
        stderr(&again)
    );

    assert_eq!(ctl::ok(&s, &["resume", "mda"]), "command succeeded\n");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/joe")), 1);
    assert_eq!(
        ctl::ok(&s, &["sh", "status"]),
        "MDA running\nMTA running\nSMTP running\n"
    );
    queue_of(&s, 0);

    // Paused again, new mail waits; `pause envelope` holds one envelope
    // even once mda runs.
    assert_eq!(ctl::ok(&s, &["pa", "mda"]), "command succeeded\n");
    send(&s, &["ann@local.test", "bob@local.test"], "again");
    let lines = queue_of(&s, 2);
    let ann = lines.iter().find(|f| f[5] == "ann@local.test").unwrap()[0].clone();
    assert_eq!(
        ctl::ok(&s, &["pause", "envelope", &ann]),
        "1 envelope paused\n"
    );
    let line = queue_lines(&ctl::ok(&s, &["show", "queue"]))
        .into_iter()
        .find(|f| f[0] == ann)
        .unwrap();
    assert_eq!(line[3], "suspend", "{line:?}");
    ctl::ok(&s, &["resume", "mda"]);
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/ann")), 0);
    assert_eq!(
        ctl::ok(&s, &["resume", "envelope", "all"]),
        "1 envelope resumed\n"
    );
    wait_count(&s, "delivery: Ok", 3, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/ann")), 1);
}

#[test]
fn pause_smtp_stops_accepting_until_resumed() {
    let s = start(LOCAL);
    assert_eq!(ctl::ok(&s, &["pause", "smtp"]), "command succeeded\n");
    assert!(s.log.wait_for("smtp: paused", Duration::from_secs(10)));
    assert!(ctl::ok(&s, &["show", "status"]).contains("SMTP paused\n"));

    // The kernel completes the handshake (the listener stays open), but
    // the server does not take the connection: no banner.
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 512];
    let err = c.read(&mut buf).expect_err("no banner while paused");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );

    assert_eq!(ctl::ok(&s, &["resume", "smtp"]), "command succeeded\n");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = c.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"220 "),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let twice = ctl::run(&s, &["resume", "smtp"]);
    assert_eq!(twice.status.code(), Some(1));
}

/// A delivery program that fails temporarily once: the envelope shows its
/// failure (retry 1, last try, error line); `schedule` tries it again.
#[test]
fn schedule_retries_a_failed_local_delivery() {
    let s = start_with(
        r#"table vt { "@" = "joe" }
listen on 127.0.0.1 port {PORT}
action "prog" mda "exec {DIR}/mda.sh" virtual <vt> userbase <users>
match from any for domain "local.test" action "prog"
"#,
        Options::default(),
        |dir| {
            let body = fill(
                r#"if [ ! -e {DIR}/out/tried ]; then
  touch {DIR}/out/tried
  echo "mailbox is busy" >&2
  exit 75
fi
cat > {DIR}/out/msg
"#,
                dir,
            );
            script(&dir.join("mda.sh"), &body);
        },
    );
    send(&s, &["x@local.test"], "retry");
    wait_count(&s, "delivery: TempFail", 1, Duration::from_secs(15));
    let mut line = Vec::new();
    let recorded = eventually(Duration::from_secs(10), || {
        line = queue_lines(&ctl::ok(&s, &["show", "queue"]))
            .pop()
            .unwrap_or_default();
        line.len() == 14 && line[10] == "1" && line[11] == "pending"
    });
    assert!(recorded, "{line:?}");
    assert!(line[9].parse::<u64>().unwrap() > 0, "last try: {line:?}");
    assert!(line[13].contains("mailbox is busy"), "error line: {line:?}");

    assert_eq!(
        ctl::ok(&s, &["schedule", &line[0]]),
        "1 envelope scheduled\n"
    );
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert!(s.path("out/msg").exists());
    queue_of(&s, 0);
    assert_eq!(ctl::ok(&s, &["sch", "all"]), "0 envelope scheduled\n");
}

/// A relayed envelope that failed waits 400 s for its next try; after
/// `schedule all` it is tried again right away.
#[test]
fn schedule_makes_a_relay_retry_happen_now() {
    let sink = Sink::start(SinkOptions::default());
    let config = format!(
        "listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp://127.0.0.1:{}\n\
         match from any for domain \"remote.test\" action \"out\"\n",
        sink.port()
    );
    let s = start(&config);
    // The sink answers 450 to `temp…` recipients.
    send(&s, &["temp1@remote.test"], "relayed");
    let failed = "result=\"TempFail\"";
    wait_count(&s, failed, 1, Duration::from_secs(15));
    let mut line = Vec::new();
    let recorded = eventually(Duration::from_secs(10), || {
        line = queue_lines(&ctl::ok(&s, &["show", "queue"]))
            .pop()
            .unwrap_or_default();
        line.len() == 14 && line[10] == "1" && line[11] == "pending"
    });
    assert!(recorded, "{line:?}");
    assert_eq!(line[2], "mta");
    let wait: i64 = line[12].parse().unwrap();
    assert!(
        wait > 60,
        "the relay backoff puts the next try minutes away: {line:?}"
    );
    assert!(line[13].contains("450"), "{line:?}");

    assert_eq!(ctl::ok(&s, &["schedule", "all"]), "1 envelope scheduled\n");
    wait_count(&s, failed, 2, Duration::from_secs(20));
    assert!(eventually(Duration::from_secs(10), || {
        queue_lines(&ctl::ok(&s, &["show", "queue"]))
            .pop()
            .is_some_and(|f| f.get(10).is_some_and(|r| r == "2"))
    }));
}

#[test]
fn stats_and_monitor_follow_the_traffic() {
    let s = start(LOCAL);
    send(&s, &["joe@local.test"], "counted");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    let mut stats = String::new();
    // Each process sends its counter updates every 20 ms: wait until all
    // of them have come.
    let wanted = [
        "scheduler.delivery.ok=1\n",
        "scheduler.envelope=0\n",
        "smtp.session=0\n",
        "control.session=1\n",
        "smtp.session.inet4=1\n",
        "mda.envelope=0\n",
        "uptime=",
        "uptime.human=",
    ];
    let settled = eventually(Duration::from_secs(10), || {
        stats = ctl::ok(&s, &["show", "stats"]);
        wanted.iter().all(|w| stats.contains(w))
    });
    assert!(settled, "{wanted:?} in:\n{stats}");
    let keys: Vec<&str> = stats
        .lines()
        .map(|l| l.split_once('=').expect("key=value").0)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in name order");

    // Several clients at once: monitor keeps its connection for its
    // lines while other commands come and go.
    let monitor = ctl::command(&s, &["monitor", "--count", "2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || ctl::ok(&s, &["show", "stats"])
            .contains("control.session=2\n")),
        "monitor and show stats connected together"
    );
    let done = monitor.wait_with_output().unwrap();
    assert!(done.status.success());
    let out = String::from_utf8(done.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("--- client ---"), "{out}");
    assert!(lines[1].starts_with("curr conn disc"), "{out}");
    let first: Vec<u64> = lines[2]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(first.len(), 13, "{out}");
    // The first line counts from the start: one connection, one envelope
    // in and out, one delivery.
    assert_eq!(&first[..7], [0, 1, 1, 0, 1, 1, 1], "{out}");
    assert_eq!(lines[3].split_whitespace().count(), 13, "{out}");
}

#[test]
fn log_verbose_and_brief_reach_every_process() {
    let s = start(LOCAL);
    let debug_line = "scheduler: debug:";
    send(&s, &["joe@local.test"], "one");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert_eq!(s.log.count(debug_line), 0);

    assert_eq!(ctl::ok(&s, &["log", "verbose"]), "logging request sent.\n");
    send(&s, &["joe@local.test"], "two");
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(15));
    assert!(s.log.count(debug_line) >= 1, "{}", s.log.text());

    assert_eq!(ctl::ok(&s, &["log", "brief"]), "logging request sent.\n");
    let seen = s.log.count(debug_line);
    send(&s, &["joe@local.test"], "three");
    wait_count(&s, "delivery: Ok", 3, Duration::from_secs(15));
    assert_eq!(s.log.count(debug_line), seen);
}

/// `trace SUBSYSTEM` turns verbose logging on in the processes doing that
/// work only (`trace scheduler`: the scheduler, not the queue);
/// `untrace` turns it off again.
#[test]
fn trace_and_untrace_switch_the_processes_of_a_subsystem() {
    let s = start(LOCAL);
    let (scheduler, queue) = ("scheduler: debug:", "queue: debug:");
    assert_eq!(ctl::ok(&s, &["trace", "scheduler"]), "command succeeded\n");
    send(&s, &["joe@local.test"], "one");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert!(s.log.count(scheduler) >= 1, "{}", s.log.text());
    assert_eq!(s.log.count(queue), 0, "{}", s.log.text());

    assert_eq!(
        ctl::ok(&s, &["untrace", "scheduler"]),
        "command succeeded\n"
    );
    let seen = s.log.count(scheduler);
    send(&s, &["joe@local.test"], "two");
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(15));
    assert_eq!(s.log.count(scheduler), seen);
    assert!(s
        .log
        .text()
        .contains("control: trace scheduler: logging verbose in scheduler"));
    let out = ctl::run(&s, &["trace", "nothing"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn commands_we_lack_say_so_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, spool) = (dir.path().join("none.sock"), dir.path().join("spool"));
    for cmd in [
        &["profile", "queue"][..],
        &["discover", "01020304"],
        &["spf", "walk"],
    ] {
        let out = ctl::command_at(&socket, &spool, cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&out).contains("not supported yet"),
            "{cmd:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    let out = ctl::command_at(&socket, &spool, &["frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown argument"),
        "{}",
        stderr(&out)
    );
    let out = ctl::command_at(&socket, &spool, &["s", "q"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("ambiguous"), "{}", stderr(&out));
    let out = ctl::command_at(&socket, &spool, &["show", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("doesn't seem to be running"),
        "{}",
        stderr(&out)
    );
}

/// A client that sends garbage (a wrong version, an undecodable request,
/// an absurd length) or leaves mid-request only loses its own connection.
#[test]
fn garbage_on_the_control_socket_is_not_fatal() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let s = start(LOCAL);
    let frames: [&[u8]; 4] = [
        &[0, 0, 0, 3, 0xee, 0, 0],
        &[0, 0, 0, 5, smtpd_ipc::IPC_VERSION, 0, 0xff, 0xff, 0xff],
        &[0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 9, smtpd_ipc::IPC_VERSION],
    ];
    for bytes in frames {
        let mut c = UnixStream::connect(s.path("smtpd.sock")).unwrap();
        c.write_all(bytes).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Refused: the server closes (or we leave, for the cut frame).
        let mut buf = [0u8; 64];
        if bytes.len() > 5 || bytes[0] == 0xff {
            assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "closed after {bytes:?}");
        }
    }
    assert!(ctl::ok(&s, &["show", "status"]).starts_with("MDA running\n"));
    assert!(!s.log.text().contains("fatal"), "{}", s.log.text());
}

/// `update table NAME`: lka reads a `file:` table again, and mail follows
/// the new entry; unknown and inline tables are refused, saying why.
#[test]
fn update_table_reloads_an_alias_file() {
    let conf = r#"table aliases file:{DIR}/aliases
table inline { "x" = "joe" }
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/mail/%{user.username}" alias <aliases> userbase <users>
match from any for domain "local.test" action "local"
"#;
    let s = start_with(conf, Options::default(), |dir| {
        std::fs::write(dir.join("aliases"), "postmaster: joe\n").unwrap();
    });
    send(&s, &["postmaster@local.test"], "before");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/joe")), 1);

    std::fs::write(s.path("aliases"), "postmaster: ann\n").unwrap();
    assert_eq!(
        ctl::ok(&s, &["update", "table", "aliases"]),
        "command succeeded\n"
    );
    send(&s, &["postmaster@local.test"], "after");
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(15));
    let ann = mailbox::maildir(&s.path("mail/ann"));
    assert_eq!(ann.len(), 1);
    assert!(String::from_utf8_lossy(&ann[0]).contains("Subject: after"));
    assert_eq!(mailbox::maildir_count(&s.path("mail/joe")), 1);

    for (name, says) in [
        ("nosuch", "no table named nosuch"),
        ("inline", "defined in the configuration"),
    ] {
        let out = ctl::run(&s, &["update", "table", name]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{name}: {err}");
    }
    // newaliases does the same (and a file: table needs nothing rebuilt).
    std::fs::write(s.path("aliases"), "postmaster: bob\n").unwrap();
    let newaliases = ctl::face(s.dir.path(), "newaliases");
    let out = std::process::Command::new(&newaliases)
        .arg("-f")
        .arg(&s.config_path)
        .env("SMTPD_SOCKET", s.path("smtpd.sock"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("table aliases reloaded by smtpd"), "{said}");
    send(&s, &["postmaster@local.test"], "to bob");
    wait_count(&s, "delivery: Ok", 3, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/bob")), 1);

    // A file gone: refused, and the table keeps serving what it had.
    std::fs::remove_file(s.path("aliases")).unwrap();
    let out = ctl::run(&s, &["update", "table", "aliases"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aliases"), "{err}");
    send(&s, &["postmaster@local.test"], "kept");
    wait_count(&s, "delivery: Ok", 4, Duration::from_secs(15));
    assert_eq!(mailbox::maildir_count(&s.path("mail/bob")), 2);
}

/// `show hosts|relays|routes`: nothing while idle; a connection kept
/// alive after a delivery (hosts, relays, routes), and a relay whose host
/// accepts the connection but never greets (a task waiting, a
/// connection being opened).
#[test]
fn show_hosts_relays_and_routes_describe_the_mta() {
    let sink = Sink::start(SinkOptions::default());
    // Accepts connections (the kernel does) and never says a word.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let config = format!(
        "listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp://127.0.0.1:{}\n\
         action \"stuck\" relay host smtp://127.0.0.1:{mute_port}\n\
         match from any for domain \"remote.test\" action \"out\"\n\
         match from any for domain \"stuck.test\" action \"stuck\"\n",
        sink.port()
    );
    let s = start(&config);
    for view in ["hosts", "relays", "routes"] {
        assert_eq!(ctl::ok(&s, &["show", view]), "", "show {view} while idle");
    }

    send(&s, &["bob@remote.test"], "relayed");
    assert!(eventually(Duration::from_secs(15), || sink
        .received()
        .len()
        == 1));
    // The connection idles, kept alive (10 s by default).
    let mut routes = String::new();
    assert!(eventually(Duration::from_secs(5), || {
        routes = ctl::ok(&s, &["show", "routes"]);
        routes.contains("---K")
    }));
    assert!(
        routes.starts_with("1. [127.0.0.1] <-> 127.0.0.1 (127.0.0.1) ---K nconn=1 "),
        "{routes}"
    );
    let hosts = ctl::ok(&s, &["show", "hosts"]);
    assert!(
        hosts.starts_with("127.0.0.1 127.0.0.1 refcount=1 nconn=1 lastconn="),
        "{hosts}"
    );
    let relays = ctl::ok(&s, &["show", "relays"]);
    let want = format!(
        "[relay:127.0.0.1,port={},dispatcher=out] refcount=1 ntask=0 nconn=1 lastconn=",
        sink.port()
    );
    assert!(relays.starts_with(&want), "{relays}");

    send(&s, &["carol@stuck.test"], "stuck");
    let want = format!(
        "[relay:127.0.0.1,port={mute_port},dispatcher=stuck] refcount=2 ntask=1 nconn=1 lastconn=- timeout=- wait=connector\n"
    );
    let mut relays = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            relays = ctl::ok(&s, &["show", "relays"]);
            relays.contains(&want)
        }),
        "{relays}"
    );
    assert_eq!(ctl::ok(&s, &["pause", "mta"]), "command succeeded\n");
    assert!(ctl::ok(&s, &["show", "relays"]).contains("wait=connector [PAUSED]\n"));
    drop(mute);
}
