//! Server-side TLS over real TCP against the real binary: STARTTLS
//! (RFC 3207) and implicit TLS (`smtps`, RFC 8314), `tls-require`, the
//! command injection of CVE-2011-0411, failed handshakes, the `tls` rule
//! condition, certificates chosen by SNI, and the configuration check of a
//! missing certificate.

mod support;

use std::time::Duration;

use support::client::Reply;
use support::test_pki::TestPki;
use support::tls_client::{keywords, TlsClient};
use support::{conf, mailbox, spool, Server};

/// A server whose single listener has `listen_opts`, with the test
/// certificate declared as pki `localhost`; `rules` are its match lines.
/// The directory of the certificate files is returned with it.
fn start(pki: &TestPki, listen_opts: &str, rules: &str) -> (Server, tempfile::TempDir) {
    start_with(pki, "", listen_opts, rules)
}

/// `start`, with `head` (declarations) before the listener.
fn start_with(
    pki: &TestPki,
    head: &str,
    listen_opts: &str,
    rules: &str,
) -> (Server, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    let pkis = pki.write_pki(certs.path(), "localhost");
    let config = format!(
        "{pkis}{head}{users}listen on 127.0.0.1 port {{PORT}} {listen_opts}\n\
         action \"local\" maildir \"{{DIR}}/mail/%{{user.username}}\" userbase <users>\n\
         {rules}\n",
        users = conf::userbase(&["alice", "bob"]),
    );
    let opts = support::Options {
        args: support::dns::no_names(),
        ..Default::default()
    };
    (Server::start_opts(&config, opts), certs)
}

const ANY: &str = "match from any for domain \"local.test\" action \"local\"";

fn wait_mail(server: &Server, user: &str, n: usize) -> Vec<String> {
    let dir = server.path(&format!("mail/{user}"));
    let ok = support::eventually(Duration::from_secs(10), || {
        mailbox::maildir(&dir).len() >= n
    });
    let got: Vec<String> = mailbox::maildir(&dir)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(ok, "{user}: expected {n} message(s), got {}", got.len());
    got
}

/// What a server sent a failed TLS client: nothing, or a TLS alert.
fn no_smtp(bytes: &[u8]) -> bool {
    bytes.is_empty() || bytes[0] == 21
}

fn has(ehlo: &Reply, kw: &str) -> bool {
    keywords(ehlo)
        .iter()
        .any(|k| k == kw || k.starts_with(&format!("{kw} ")))
}

#[test]
fn starttls_then_a_message_is_delivered_and_received_says_esmtps() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "tls pki localhost", ANY);
    let mut c = TlsClient::plain(server.port);
    let before = c.starttls(pki.client());
    assert!(has(&before, "STARTTLS"), "{before:?}");
    assert!(!has(&before, "AUTH"), "{before:?}");

    let after = c.cmd("EHLO client.test");
    assert_eq!(after.code, 250, "{after:?}");
    assert!(!has(&after, "STARTTLS"), "{after:?}");
    assert!(has(&after, "PIPELINING"), "{after:?}");
    let r = c.send_mail(
        "sender@example.com",
        &["alice@local.test"],
        "Subject: over tls\n\nsecret",
    );
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(c.cmd("QUIT").code, 221);

    let got = wait_mail(&server, "alice", 1);
    assert!(got[0].contains("with ESMTPS id"), "{}", got[0]);
    assert!(
        got[0].ends_with("Subject: over tls\n\nsecret\n"),
        "{}",
        got[0]
    );
    server.log.expect("smtp tls ciphers=TLSv1.");
}

/// `protocols` and `ciphers` on a listener (libtls syntax) limit what the
/// handshake may agree on: a TLS 1.3-only client is refused by a TLS 1.2
/// listener, and a TLS 1.2 client gets the one suite family allowed.
#[test]
fn listener_protocols_and_ciphers_limit_the_handshake() {
    let pki = TestPki::new();
    let opts = "tls pki localhost protocols \"tlsv1.2\" \
                ciphers \"HIGH:!aNULL:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:!AESGCM\"";
    let (server, _certs) = start(&pki, opts, ANY);

    let mut refused = TlsClient::plain(server.port);
    refused.expect(220);
    assert_eq!(refused.cmd("EHLO client.test").code, 250);
    assert_eq!(refused.cmd("STARTTLS").code, 220);
    let err = refused
        .upgrade(pki.client_speaking(&[&rustls::version::TLS13]), "localhost")
        .expect_err("a TLS 1.3-only client must be refused");
    assert!(!err.is_empty());

    let mut c = TlsClient::plain(server.port);
    c.starttls(pki.client());
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.send_mail(
        "sender@example.com",
        &["alice@local.test"],
        "Subject: t\n\nx",
    );
    assert_eq!(r.code, 250, "{r:?}");
    wait_mail(&server, "alice", 1);
    server.log.expect("smtp tls ciphers=TLSv1.2:TLS_ECDHE_");
    let log = server.log.text();
    let line = log
        .lines()
        .find(|l| l.contains("smtp tls ciphers="))
        .unwrap_or_default();
    assert!(line.contains("CHACHA20_POLY1305"), "{line}");
}

/// A protocol list this server cannot honour is a configuration error with
/// its position.
#[test]
fn the_check_names_a_bad_protocol_list_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("smtpd.conf");
    std::fs::write(
        &conf,
        "listen on 127.0.0.1 port 2599 protocols \"tlsv1.0\"\nmatch for any reject\n",
    )
    .unwrap();
    let out = std::process::Command::new(support::SMTPD)
        .args(["-n", "-f"])
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("smtpd.conf:1:41"), "{err}");
    assert!(
        err.contains("leaves no protocol this server speaks"),
        "{err}"
    );
}

#[test]
fn starttls_forgets_the_ehlo_and_refuses_misuse() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "tls pki localhost", ANY);
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.cmd("STARTTLS now");
    assert_eq!(r.code, 501, "{r:?}");
    assert_eq!(c.cmd("STARTTLS").code, 220);
    c.upgrade(pki.client(), "localhost").unwrap();
    // The EHLO of before TLS is forgotten: MAIL needs a new one.
    let r = c.cmd("MAIL FROM:<a@example.com>");
    assert_eq!(r.code, 503, "{r:?}");
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.cmd("STARTTLS");
    assert_eq!(r.code, 503, "{r:?}");
    assert!(r.text().starts_with("5.5.1 "), "{r:?}");
    // The session goes on over TLS.
    assert_eq!(c.cmd("NOOP").code, 250);
}

#[test]
fn starttls_on_a_plain_listener_is_not_available() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "", ANY);
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    let ehlo = c.cmd("EHLO client.test");
    assert!(!has(&ehlo, "STARTTLS"), "{ehlo:?}");
    let r = c.cmd("STARTTLS");
    assert_eq!(r.code, 502, "{r:?}");
}

#[test]
fn smtps_is_tls_from_the_first_byte() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "smtps pki localhost", ANY);
    let mut c = TlsClient::smtps(server.port, pki.client(), "localhost");
    c.expect(220);
    let ehlo = c.cmd("EHLO client.test");
    assert_eq!(ehlo.code, 250);
    assert!(!has(&ehlo, "STARTTLS"), "{ehlo:?}");
    let r = c.send_mail("s@example.com", &["bob@local.test"], "Subject: smtps\n\nhi");
    assert_eq!(r.code, 250, "{r:?}");
    let got = wait_mail(&server, "bob", 1);
    assert!(got[0].contains("with ESMTPS id"), "{}", got[0]);
}

#[test]
fn tls_require_refuses_mail_before_starttls() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "tls-require pki localhost", ANY);
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.cmd("MAIL FROM:<s@example.com>");
    assert_eq!(r.code, 530, "{r:?}");
    assert!(
        r.text()
            .starts_with("5.7.0 Must issue a STARTTLS command first"),
        "{r:?}"
    );
    let r = c.cmd("RCPT TO:<alice@local.test>");
    assert_eq!(r.code, 503, "{r:?}");
    assert!(spool::queued_messages(&server.path("spool")).is_empty());

    // Over TLS the same mail goes through.
    assert_eq!(c.cmd("STARTTLS").code, 220);
    c.upgrade(pki.client(), "localhost").unwrap();
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.send_mail("s@example.com", &["alice@local.test"], "hi");
    assert_eq!(r.code, 250, "{r:?}");
    wait_mail(&server, "alice", 1);
}

#[test]
fn commands_sent_in_clear_after_starttls_are_never_run() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "tls pki localhost", ANY);
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    // One write: the RSET (and a MAIL) ride in clear behind STARTTLS.
    c.send_raw(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.com>\r\n");
    let r = c.reply();
    assert_eq!(r.code, 220, "{r:?}");
    // `upgrade` checks that nothing else came in clear.
    c.upgrade(pki.client(), "localhost").unwrap();
    // The first reply over TLS answers our EHLO, not the injected RSET.
    let ehlo = c.cmd("EHLO client.test");
    assert_eq!(ehlo.code, 250, "{ehlo:?}");
    assert!(ehlo.lines[0].contains("Hello client.test"), "{ehlo:?}");
    let noop = c.cmd("NOOP");
    assert_eq!(noop.lines, vec!["2.0.0 Ok".to_string()], "{noop:?}");
    // The injected MAIL did not open a transaction.
    let r = c.cmd("MAIL FROM:<good@example.com>");
    assert_eq!(r.code, 250, "{r:?}");
    let log = server.log.text();
    assert!(!log.contains("Reset state"), "{log}");
}

#[test]
fn a_failed_handshake_ends_only_that_session() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "tls pki localhost", ANY);
    let mut bad = TlsClient::plain(server.port);
    bad.expect(220);
    assert_eq!(bad.cmd("EHLO client.test").code, 250);
    assert_eq!(bad.cmd("STARTTLS").code, 220);
    bad.send_raw(b"this is not a TLS client hello\r\n\r\n");
    // The server closes the connection, with at most a TLS alert record
    // (content type 21), never an SMTP reply in clear.
    let rest = bad.read_to_end();
    assert!(no_smtp(&rest), "{:?}", String::from_utf8_lossy(&rest));
    server.log.expect("smtp error tls-handshake");

    // The server still serves the next client.
    let mut good = TlsClient::plain(server.port);
    let ehlo = good.starttls(pki.client());
    assert!(has(&ehlo, "STARTTLS"));
    assert_eq!(good.cmd("EHLO client.test").code, 250);
    let r = good.send_mail("s@example.com", &["alice@local.test"], "still here");
    assert_eq!(r.code, 250, "{r:?}");
    wait_mail(&server, "alice", 1);
}

#[test]
fn a_handshake_that_never_comes_ends_at_the_session_timeout() {
    let pki = TestPki::new();
    let certs = tempfile::tempdir().unwrap();
    let pkis = pki.write_pki(certs.path(), "localhost");
    let config = format!(
        "{pkis}{users}listen on 127.0.0.1 port {{PORT}} tls pki localhost\n\
         action \"local\" maildir \"{{DIR}}/mail/%{{user.username}}\" userbase <users>\n\
         {ANY}\n",
        users = conf::userbase(&["alice"]),
    );
    let mut args = support::dns::no_names();
    args.extend(["--smtp-timeout".to_string(), "1".to_string()]);
    let server = Server::start_opts(
        &config,
        support::Options {
            args,
            ..Default::default()
        },
    );
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    assert_eq!(c.cmd("STARTTLS").code, 220);
    // Silence: the server gives up and closes, without a word in clear.
    let t0 = std::time::Instant::now();
    let rest = c.read_to_end();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    server.log.expect("tls-handshake: handshake timeout");
}

#[test]
fn a_client_that_speaks_clear_text_to_smtps_is_dropped() {
    let pki = TestPki::new();
    let (server, _certs) = start(&pki, "smtps pki localhost", ANY);
    let mut bad = TlsClient::plain(server.port);
    bad.send_raw(b"EHLO client.test\r\n");
    let rest = bad.read_to_end();
    assert!(no_smtp(&rest), "{:?}", String::from_utf8_lossy(&rest));
    let mut good = TlsClient::smtps(server.port, pki.client(), "localhost");
    good.expect(220);
}

#[test]
fn the_tls_rule_condition_sees_the_session_s_tls() {
    let pki = TestPki::new();
    let (server, _certs) = start(
        &pki,
        "tls pki localhost",
        "match from any tls for domain \"local.test\" action \"local\"",
    );
    let mut c = TlsClient::plain(server.port);
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    assert_eq!(c.cmd("MAIL FROM:<s@example.com>").code, 250);
    let r = c.cmd("RCPT TO:<alice@local.test>");
    assert_eq!(r.code / 100, 5, "in clear the rule must not match: {r:?}");
    assert_eq!(c.cmd("RSET").code, 250);
    assert_eq!(c.cmd("STARTTLS").code, 220);
    c.upgrade(pki.client(), "localhost").unwrap();
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.send_mail("s@example.com", &["alice@local.test"], "tls only");
    assert_eq!(r.code, 250, "{r:?}");
    wait_mail(&server, "alice", 1);
}

#[test]
fn several_pki_are_chosen_by_sni_the_first_by_default() {
    // Two CAs, two certificates for the same host: the client trusts one
    // CA only, so the handshake tells which certificate was shown.
    let first = TestPki::new();
    let second = TestPki::new();
    let certs = tempfile::tempdir().unwrap();
    let pkis = format!(
        "{}{}",
        first.write_pki(certs.path(), "default.test"),
        second.write_pki(certs.path(), "localhost")
    );
    let config = format!(
        "{pkis}{users}listen on 127.0.0.1 port {{PORT}} smtps pki default.test pki localhost\n\
         action \"local\" maildir \"{{DIR}}/mail/%{{user.username}}\" userbase <users>\n\
         {ANY}\n",
        users = conf::userbase(&["alice"]),
    );
    let server = Server::start_opts(
        &config,
        support::Options {
            args: support::dns::no_names(),
            ..Default::default()
        },
    );
    // SNI "localhost": the second pki.
    let mut c = TlsClient::smtps(server.port, second.client(), "localhost");
    c.expect(220);
    // No SNI (an IP address is not sent as SNI): the first pki, which the
    // first CA signed for 127.0.0.1.
    let mut c = TlsClient::smtps(server.port, first.client(), "127.0.0.1");
    c.expect(220);
}

#[test]
fn tls_verify_takes_only_clients_with_a_certificate_of_the_ca() {
    let pki = TestPki::new();
    let certs = tempfile::tempdir().unwrap();
    let ca = certs.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (server, _certs) = start_with(
        &pki,
        &format!("ca clients cert \"{}\"\n", ca.display()),
        "smtps verify pki localhost ca clients",
        ANY,
    );
    // Without a client certificate: the handshake fails, the session ends.
    let tcp = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn =
        rustls::ClientConnection::new(pki.client(), "localhost".try_into().unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let mut buf = [0u8; 64];
    let r = std::io::Read::read(&mut s, &mut buf);
    assert!(
        !matches!(r, Ok(n) if n > 0),
        "a reply without a client certificate: {r:?}"
    );
    // With one the CA signed: served.
    let mut c = TlsClient::smtps(server.port, pki.client_with_cert(), "localhost");
    c.expect(220);
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    let r = c.send_mail("s@example.com", &["alice@local.test"], "verified");
    assert_eq!(r.code, 250, "{r:?}");
    wait_mail(&server, "alice", 1);
}

#[test]
fn privileged_smtp_reads_a_root_only_key_before_its_chroot() {
    use std::os::unix::fs::PermissionsExt;
    if !support::is_root() {
        eprintln!("skipped: privilege separation needs root");
        return;
    }
    if support::accounts::lookup("_smtpd").is_none()
        || support::accounts::lookup("_smtpq").is_none()
    {
        eprintln!("skipped: users _smtpd, _smtpq missing (.ci/setup-machine.sh)");
        return;
    }
    let pki = TestPki::new();
    let certs = tempfile::tempdir().unwrap();
    let pkis = pki.write_pki(certs.path(), "localhost");
    let key = certs.path().join("localhost.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = format!(
        "{pkis}listen on 127.0.0.1 port {{PORT}} tls-require pki localhost
         action \"local\" maildir \"{{DIR}}/mail\"\n         match from any for domain \"local.test\" action \"local\"\n"
    );
    let server = Server::start_opts(
        &config,
        support::Options {
            args: support::dns::no_names(),
            privileged: true,
            ..Default::default()
        },
    );
    let smtp = server.roles()["smtp"];
    assert_eq!(
        support::procs::root_dir(smtp),
        Some(std::path::PathBuf::from(support::EMPTY_DIR))
    );
    assert_ne!(support::procs::creds(smtp).uids[0], 0);
    let mut c = TlsClient::plain(server.port);
    c.starttls(pki.client());
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    assert_eq!(c.cmd("MAIL FROM:<s@example.com>").code, 250);
    assert_eq!(c.cmd("QUIT").code, 221);
}

#[test]
fn the_check_names_a_missing_certificate_with_its_position() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nosuch.crt");
    let f = d.path().join("smtpd.conf");
    std::fs::write(
        &f,
        format!(
            "pki mx cert \"{}\"\npki mx key \"{}\"\nlisten on 127.0.0.1 port 2599 tls pki mx\n\
             action \"local\" maildir\nmatch from any for local action \"local\"\n",
            missing.display(),
            d.path().join("nosuch.key").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(support::SMTPD)
        .arg("-n")
        .arg("-f")
        .arg(&f)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:1:", f.display());
    assert!(
        err.lines()
            .any(|l| l.starts_with(&want) && l.contains(&missing.display().to_string())),
        "{err}"
    );

    // `verify` without a CA to verify with.
    let pki = TestPki::new();
    let pkis = pki.write_pki(d.path(), "mx");
    std::fs::write(
        &f,
        format!(
            "{pkis}listen on 127.0.0.1 port 2599 smtps verify pki mx\n\
             action \"local\" maildir\nmatch from any for local action \"local\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(support::SMTPD)
        .arg("-n")
        .arg("-f")
        .arg(&f)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:3:", f.display());
    assert!(
        err.lines()
            .any(|l| l.starts_with(&want) && l.contains("verify needs the CA")),
        "{err}"
    );
}
