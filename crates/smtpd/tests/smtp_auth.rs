//! AUTH on the server (RFC 4954) over real TCP against the real binary:
//! offered only over TLS, PLAIN and LOGIN against a credentials table of
//! crypt(3) hashes (SHA-crypt and bcrypt), the refusals, the errors limit
//! against guessing, `auth` listeners refusing mail before AUTH, and the
//! `from auth` rules seeing the authenticated user.

mod support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use support::client::Reply;
use support::test_pki::TestPki;
use support::tls_client::{keywords, TlsClient};
use support::{conf, mailbox, programs, Server};

/// `openssl passwd -6 -salt saltsalt s3cret`.
const ALICE_HASH: &str =
    "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1";
/// OpenBSD's bcrypt test vector: the password is `U*U`.
const BOB_HASH: &str = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

/// A server with the test certificate as pki `localhost`, the credentials
/// file table `creds` (alice: `s3cret`, bob: `U*U`), one listener with
/// `listen_opts`, local delivery for `local.test` and an action `submit`
/// that delivers anything into `{DIR}/submitted`; `rules` come first.
fn start(pki: &TestPki, listen_opts: &str, rules: &str) -> (Server, tempfile::TempDir) {
    start_args(pki, listen_opts, rules, |_| Vec::new())
}

/// `start`, with extra command-line arguments made from the directory of
/// the test's files.
fn start_args(
    pki: &TestPki,
    listen_opts: &str,
    rules: &str,
    args: impl FnOnce(&std::path::Path) -> Vec<String>,
) -> (Server, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let pkis = pki.write_pki(files.path(), "localhost");
    let creds = files.path().join("creds");
    std::fs::write(&creds, format!("alice {ALICE_HASH}\nbob {BOB_HASH}\n")).unwrap();
    let config = format!(
        "{pkis}{users}table creds file:{creds}\n\
         table submitters {{ \"alice\" }}\n\
         table senders {{ \"alice\" = \"alice@local.test, @example.org\" }}\n\
         listen on 127.0.0.1 port {{PORT}} {listen_opts}\n\
         action \"local\" maildir \"{{DIR}}/mail/%{{user.username}}\" userbase <users>\n\
         action \"submit\" maildir \"{{DIR}}/submitted\" {{CATCHALL}}\n\
         {rules}\n\
         match from any for domain \"local.test\" action \"local\"\n",
        users = conf::userbase(&["alice", "bob"]),
        creds = creds.display(),
    );
    let mut all_args = support::dns::no_names();
    all_args.extend(args(files.path()));
    let opts = support::Options {
        args: all_args,
        ..Default::default()
    };
    (Server::start_opts(&config, opts), files)
}

fn plain(user: &str, password: &str) -> String {
    B64.encode(format!("\0{user}\0{password}"))
}

fn has(ehlo: &Reply, kw: &str) -> bool {
    keywords(ehlo)
        .iter()
        .any(|k| k == kw || k.starts_with(&format!("{kw} ")))
}

/// Connect, STARTTLS, EHLO again; returns the EHLO reply over TLS.
fn over_tls(server: &Server, pki: &TestPki) -> (TlsClient, Reply) {
    let mut c = TlsClient::plain(server.port);
    c.starttls(pki.client());
    let ehlo = c.cmd("EHLO client.test");
    assert_eq!(ehlo.code, 250, "{ehlo:?}");
    (c, ehlo)
}

fn wait_maildir(dir: &std::path::Path, n: usize) -> Vec<String> {
    let ok = support::eventually(Duration::from_secs(10), || mailbox::maildir(dir).len() >= n);
    let got: Vec<String> = mailbox::maildir(dir)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        ok,
        "{}: expected {n} message(s), got {}",
        dir.display(),
        got.len()
    );
    got
}

#[test]
fn auth_is_offered_only_over_tls_and_refused_in_clear() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "tls pki localhost auth-optional <creds>", "");
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    let ehlo = c.cmd("EHLO client.test");
    assert!(has(&ehlo, "STARTTLS") && !has(&ehlo, "AUTH"), "{ehlo:?}");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 538, "{r:?}");
    assert!(r.text().starts_with("5.7.11 "), "{r:?}");
    assert_eq!(c.cmd("STARTTLS").code, 220);
    c.upgrade(pki.client(), "localhost").unwrap();
    let ehlo = c.cmd("EHLO client.test");
    assert!(!has(&ehlo, "STARTTLS"), "{ehlo:?}");
    assert!(
        keywords(&ehlo).contains(&"AUTH PLAIN LOGIN".to_string()),
        "{ehlo:?}"
    );
    // The password never reaches the log.
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    let log = server.log.text();
    assert!(
        !log.contains("s3cret") && !log.contains(&plain("alice", "s3cret")),
        "{log}"
    );
}

#[test]
fn an_auth_listener_takes_mail_only_after_auth_plain() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "tls pki localhost auth <creds>", "");
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd("MAIL FROM:<alice@local.test>");
    assert_eq!(r.code, 530, "{r:?}");
    assert_eq!(r.text(), "5.7.0 Authentication required");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "wrong")));
    assert_eq!(r.code, 535, "{r:?}");
    assert_eq!(r.text(), "5.7.8 Authentication failed");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("nobody", "s3cret")));
    assert_eq!(r.code, 535, "{r:?}");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    assert_eq!(r.text(), "2.7.0 Authentication succeeded");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 503, "{r:?}");
    assert!(r.text().starts_with("5.5.1 "), "{r:?}");
    let r = c.send_mail(
        "alice@local.test",
        &["bob@local.test"],
        "Subject: authed\n\nhi",
    );
    assert_eq!(r.code, 250, "{r:?}");
    let got = wait_maildir(&server.path("mail/bob"), 1);
    assert!(got[0].contains("with ESMTPSA id"), "{}", got[0]);
    server
        .log
        .expect("smtp authentication user=alice result=ok");
    let log = server.log.text();
    assert!(
        log.contains("smtp authentication user=alice result=permfail"),
        "{log}"
    );
}

/// `received-auth`: the Received: header says whether and as whom the
/// client authenticated.
#[test]
fn received_auth_names_the_authenticated_user() {
    let pki = TestPki::new();
    let (server, _files) = start(
        &pki,
        "tls pki localhost auth-optional <creds> received-auth",
        "",
    );
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.send_mail("x@example.org", &["bob@local.test"], "Subject: anon\n\nhi");
    assert_eq!(r.code, 250, "{r:?}");
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    let r = c.send_mail(
        "alice@local.test",
        &["bob@local.test"],
        "Subject: authed\n\nhi",
    );
    assert_eq!(r.code, 250, "{r:?}");
    let got = wait_maildir(&server.path("mail/bob"), 2);
    let received = |subject: &str| {
        got.iter()
            .find(|m| m.contains(subject))
            .and_then(|m| m.lines().find(|l| l.contains(" id ")).map(str::to_string))
            .unwrap_or_default()
    };
    let anon = received("Subject: anon");
    assert!(anon.ends_with(" auth=no"), "{anon}");
    let authed = received("Subject: authed");
    assert!(
        authed.contains("with ESMTPSA id ") && authed.ends_with(" auth=yes user=alice"),
        "{authed}"
    );
}

/// `senders <t> masquerade`: an authenticated user's From: header is
/// rewritten to its MAIL FROM, the display name kept; the body and an
/// unauthenticated session's message are left alone.
#[test]
fn masquerade_rewrites_the_from_header_of_authenticated_mail() {
    let pki = TestPki::new();
    let (server, _files) = start(
        &pki,
        "tls pki localhost auth-optional <creds> senders <senders> masquerade",
        "",
    );
    let (mut c, _) = over_tls(&server, &pki);
    let body = "From: \"The Boss\" <boss@evil.test>\nSubject: anon\n\nFrom: kept in the body\n";
    assert_eq!(
        c.send_mail("x@example.org", &["bob@local.test"], body).code,
        250
    );
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    let body = "Subject: authed\nFrom: \"The Boss\"\n <boss@evil.test>\nTo: bob@local.test\n\nFrom: kept in the body\n";
    assert_eq!(
        c.send_mail("alice@local.test", &["bob@local.test"], body)
            .code,
        250
    );
    let got = wait_maildir(&server.path("mail/bob"), 2);
    let msg = |subject: &str| {
        got.iter()
            .find(|m| m.contains(subject))
            .cloned()
            .unwrap_or_default()
    };
    let anon = msg("Subject: anon");
    assert!(
        anon.contains("\nFrom: \"The Boss\" <boss@evil.test>\n"),
        "{anon}"
    );
    let authed = msg("Subject: authed");
    assert!(
        authed.contains("\nFrom: \"The Boss\" <alice@local.test>\nTo: bob@local.test\n\nFrom: kept in the body\n"),
        "{authed}"
    );
    assert!(!authed.contains("evil.test"), "{authed}");
}

#[test]
fn plain_with_a_challenge_and_login_with_a_bcrypt_hash() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "tls pki localhost auth <creds>", "");
    // PLAIN without an initial response: an empty 334 challenge first.
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd("AUTH PLAIN");
    assert_eq!((r.code, r.text()), (334, String::new()), "{r:?}");
    let r = c.cmd(&plain("bob", "U*U"));
    assert_eq!(r.code, 235, "{r:?}");

    // LOGIN: user name, then password, each asked for in base64.
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd("AUTH LOGIN");
    assert_eq!(r.code, 334, "{r:?}");
    assert_eq!(B64.decode(r.text()).unwrap(), b"Username:");
    let r = c.cmd(&B64.encode("bob"));
    assert_eq!(r.code, 334, "{r:?}");
    assert_eq!(B64.decode(r.text()).unwrap(), b"Password:");
    let r = c.cmd(&B64.encode("U*V"));
    assert_eq!(r.code, 535, "{r:?}");
    let r = c.cmd("AUTH LOGIN");
    assert_eq!(r.code, 334, "{r:?}");
    c.cmd(&B64.encode("bob"));
    let r = c.cmd(&B64.encode("U*U"));
    assert_eq!(r.code, 235, "{r:?}");
    let r = c.send_mail("bob@local.test", &["alice@local.test"], "login");
    assert_eq!(r.code, 250, "{r:?}");
    wait_maildir(&server.path("mail/alice"), 1);
}

#[test]
fn cancelled_and_malformed_exchanges_are_refused() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "tls pki localhost auth <creds>", "");
    let (mut c, _) = over_tls(&server, &pki);
    assert_eq!(c.cmd("AUTH LOGIN").code, 334);
    let r = c.cmd("*");
    assert_eq!(r.code, 501, "{r:?}");
    assert!(r.text().starts_with("5.7.0 "), "{r:?}");
    assert_eq!(c.cmd("AUTH PLAIN").code, 334);
    let r = c.cmd("!!not base64!!");
    assert_eq!(r.code, 501, "{r:?}");
    assert!(r.text().starts_with("5.5.2 "), "{r:?}");
    let r = c.cmd("AUTH CRAM-MD5");
    assert_eq!(r.code, 504, "{r:?}");
    // The session is still usable: the exchange is over.
    assert_eq!(c.cmd("NOOP").code, 250);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
}

#[test]
fn guessing_passwords_ends_in_too_many_errors() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "tls pki localhost auth <creds>", "");
    let (mut c, _) = over_tls(&server, &pki);
    let mut failures = 0;
    let last = loop {
        let r = c.cmd(&format!(
            "AUTH PLAIN {}",
            plain("alice", &format!("guess{failures}"))
        ));
        if r.code != 535 {
            break r;
        }
        failures += 1;
        assert!(failures <= 25, "still guessing after {failures} failures");
    };
    assert_eq!(last.code, 421, "{last:?}");
    assert!(failures >= 10, "cut off after {failures} failures");
    assert!(c.try_reply().is_none(), "the session stays open");
}

#[test]
fn from_auth_rules_route_the_authenticated_user_s_mail() {
    let pki = TestPki::new();
    let (server, _files) = start(
        &pki,
        "tls pki localhost auth-optional <creds>",
        "match from auth <submitters> for domain \"remote.test\" action \"submit\"\n\
         match from auth for domain \"other.test\" action \"submit\"",
    );
    // Not authenticated: no rule for remote domains.
    let (mut c, _) = over_tls(&server, &pki);
    assert_eq!(c.cmd("MAIL FROM:<x@example.com>").code, 250);
    let r = c.cmd("RCPT TO:<carol@remote.test>");
    assert_eq!(r.code / 100, 5, "{r:?}");
    assert_eq!(c.cmd("RSET").code, 250);

    // bob may use `from auth`, not `from auth <submitters>`.
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("bob", "U*U")));
    assert_eq!(r.code, 235, "{r:?}");
    assert_eq!(c.cmd("MAIL FROM:<bob@local.test>").code, 250);
    let r = c.cmd("RCPT TO:<carol@remote.test>");
    assert_eq!(r.code / 100, 5, "{r:?}");
    let r = c.cmd("RCPT TO:<dave@other.test>");
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(c.cmd("RSET").code, 250);

    // alice is a submitter.
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    let r = c.send_mail(
        "alice@local.test",
        &["carol@remote.test"],
        "Subject: out\n\nvia auth",
    );
    assert_eq!(r.code, 250, "{r:?}");
    let got = wait_maildir(&server.path("submitted"), 1);
    assert!(got[0].contains("via auth"), "{}", got[0]);
    assert!(got[0].contains("with ESMTPSA id"), "{}", got[0]);
}

#[test]
fn senders_limits_an_authenticated_user_to_its_addresses() {
    let pki = TestPki::new();
    let (server, _files) = start(
        &pki,
        "tls pki localhost auth-optional <creds> senders <senders>",
        "",
    );
    // Not authenticated: no sender check.
    let (mut c, _) = over_tls(&server, &pki);
    assert_eq!(c.cmd("MAIL FROM:<bob@local.test>").code, 250);
    assert_eq!(c.cmd("RSET").code, 250);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    for ok in [
        "alice@local.test",
        "Alice+tag@LOCAL.test",
        "anyone@example.org",
    ] {
        let r = c.cmd(&format!("MAIL FROM:<{ok}>"));
        assert_eq!(r.code, 250, "{ok}: {r:?}");
        assert_eq!(c.cmd("RSET").code, 250);
    }
    for bad in ["bob@local.test", "alice@other.test", ""] {
        let r = c.cmd(&format!("MAIL FROM:<{bad}>"));
        assert_eq!(r.code, 530, "{bad}: {r:?}");
        assert_eq!(r.text(), "5.7.0 Sender rejected");
    }
    let r = c.send_mail("alice@local.test", &["bob@local.test"], "mine");
    assert_eq!(r.code, 250, "{r:?}");
    wait_maildir(&server.path("mail/bob"), 1);

    // bob has no entry: no address at all.
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("bob", "U*U")));
    assert_eq!(r.code, 235, "{r:?}");
    assert_eq!(c.cmd("MAIL FROM:<bob@local.test>").code, 530);
}

#[test]
fn smtps_with_auth() {
    let pki = TestPki::new();
    let (server, _files) = start(&pki, "smtps pki localhost auth <creds>", "");
    let mut c = TlsClient::smtps(server.port, pki.client(), "localhost");
    c.expect(220);
    let ehlo = c.cmd("EHLO client.test");
    assert!(has(&ehlo, "AUTH"), "{ehlo:?}");
    assert_eq!(c.cmd("MAIL FROM:<bob@local.test>").code, 530);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("bob", "U*U")));
    assert_eq!(r.code, 235, "{r:?}");
    let r = c.send_mail("bob@local.test", &["alice@local.test"], "smtps+auth");
    assert_eq!(r.code, 250, "{r:?}");
    wait_maildir(&server.path("mail/alice"), 1);
}

#[test]
fn auth_without_a_table_checks_the_system_passwords() {
    let pki = TestPki::new();
    // The parent reads the shadow file (`--shadow` stands in for
    // /etc/shadow): alice has a SHA-crypt hash, bob's account is locked,
    // carol's hash is yescrypt (Debian's default, made by the system's
    // libxcrypt for "s3cret"), dave's is MD5-crypt, which we do not take.
    let (server, _files) = start_args(&pki, "tls pki localhost auth", "", |dir| {
        let shadow = dir.join("shadow");
        std::fs::write(
            &shadow,
            format!(
                "root:*:19000:0:99999:7:::\n\
                 alice:{ALICE_HASH}:19000:0:99999:7:::\n\
                 bob:!{ALICE_HASH}:19000:0:99999:7:::\n\
                 carol:{CAROL_YESCRYPT}:19000::::::\n\
                 dave:$1$abcdefgh$abcdefghijklmnopqrstuv:19000::::::\n"
            ),
        )
        .unwrap();
        vec!["--shadow".into(), shadow.to_string_lossy().into_owned()]
    });
    let (mut c, ehlo) = over_tls(&server, &pki);
    assert!(has(&ehlo, "AUTH"), "{ehlo:?}");
    for (user, password) in [
        ("bob", "s3cret"),
        ("carol", "wrong"),
        ("dave", "s3cret"),
        ("alice", "wrong"),
    ] {
        let r = c.cmd(&format!("AUTH PLAIN {}", plain(user, password)));
        assert_eq!(r.code, 535, "{user}: {r:?}");
    }
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 235, "{r:?}");
    let r = c.send_mail("alice@local.test", &["bob@local.test"], "system password");
    assert_eq!(r.code, 250, "{r:?}");
    wait_maildir(&server.path("mail/bob"), 1);
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("carol", "s3cret")));
    assert_eq!(r.code, 235, "carol (yescrypt): {r:?}");
    server
        .log
        .expect("the password of dave is not a hash we know");
}

/// `crypt("s3cret", "$y$j9T$F5Jx5fExrKuJdk5HYvUSs1$")` by libxcrypt.
const CAROL_YESCRYPT: &str =
    "$y$j9T$F5Jx5fExrKuJdk5HYvUSs1$IXBZSK/h5xLlPQAo/VU3cknuetgxlqDyGvgrlCWa3c4";

#[test]
fn an_unreadable_password_source_fails_temporarily() {
    let pki = TestPki::new();
    let (server, _files) = start_args(&pki, "tls pki localhost auth", "", |dir| {
        vec![
            "--shadow".into(),
            dir.join("nosuch").to_string_lossy().into_owned(),
        ]
    });
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(r.code, 454, "{r:?}");
    assert!(r.text().starts_with("4.7.0 "), "{r:?}");
    // The parent logs it; its line may reach the log reader after the reply.
    server.log.expect("auth: cannot read");
}

#[test]
fn python_smtplib_logs_in_over_starttls() {
    let pki = TestPki::new();
    let (server, files) = start(&pki, "tls-require pki localhost auth <creds>", "");
    let ca = files.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let code = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP('localhost', int(sys.argv[1]), timeout=20)
s.ehlo('py.test')
assert not s.has_extn('auth')
s.starttls(context=ctx)
s.ehlo('py.test')
assert s.has_extn('auth')
for mech in ['PLAIN', 'LOGIN']:
    s.user, s.password = 'bob', 'U*U'
    try:
        s.auth(mech, getattr(s, 'auth_' + mech.lower()), initial_response_ok=(mech == 'PLAIN'))
    except smtplib.SMTPAuthenticationError as e:
        raise SystemExit(f'{mech}: {e}')
    s.rset()
    s.quit()
    s = smtplib.SMTP('localhost', int(sys.argv[1]), timeout=20)
    s.starttls(context=ctx)
try:
    s.login('bob', 'wrong')
    raise SystemExit('wrong password accepted')
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535, e
s.login('alice', 's3cret')
refused = s.sendmail('alice@local.test', ['bob@local.test'], b'Subject: py\r\n\r\nfrom smtplib\r\n')
assert refused == {}, refused
s.quit()
print('ok')
"#;
    let port = server.port.to_string();
    let out = programs::python(code, &[&port, ca.to_str().unwrap()]);
    assert!(out.status.success(), "{}", programs::text(&out));
    let got = wait_maildir(&server.path("mail/bob"), 1);
    assert!(got[0].contains("from smtplib"), "{}", got[0]);
}

/// `smtpctl encrypt` makes a hash the server accepts, and `smtpctl update
/// table` makes the server read the credentials file again: a user added
/// to it logs in without a restart.
#[test]
fn a_hash_from_smtpctl_encrypt_logs_in_after_update_table() {
    use support::smtpctl as ctl;
    let pki = TestPki::new();
    let (server, files) = start(&pki, "tls pki localhost auth <creds>", "");
    let hash = ctl::ok(&server, &["encrypt", "n3w pass"]);
    let hash = hash.trim_end();
    assert!(hash.starts_with("$6$") && !hash.contains(' '), "{hash}");
    // Standard input: one hash a line, each with its own salt.
    let mut cmd = ctl::command(&server, &["encrypt"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"n3w pass\nn3w pass\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2);
    assert_ne!(lines[0], lines[1]);
    assert!(lines.iter().all(|l| l.starts_with("$6$")));

    let creds = files.path().join("creds");
    let mut text = std::fs::read_to_string(&creds).unwrap();
    text.push_str(&format!("carol {hash}\n"));
    std::fs::write(&creds, text).unwrap();
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("carol", "n3w pass")));
    assert_eq!(r.code, 535, "not read yet: {r:?}");

    assert_eq!(
        ctl::ok(&server, &["update", "table", "creds"]),
        "command succeeded\n"
    );
    let (mut c, _) = over_tls(&server, &pki);
    let r = c.cmd(&format!("AUTH PLAIN {}", plain("carol", "n3w pass")));
    assert_eq!(r.code, 235, "{r:?}");
    server.log.expect("lka: table creds reloaded");
}
