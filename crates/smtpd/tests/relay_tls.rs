//! TLS and AUTH towards relays, end to end: opportunistic STARTTLS,
//! mandatory verified STARTTLS (`smtp+tls://` with a `ca`), implicit TLS
//! (`smtps://`), and the cases that must never send in clear: a relay that
//! demands TLS but cannot have it, a certificate that does not verify,
//! credentials over a plaintext connection.

mod support;

use std::time::Duration;

use support::sink::{only_crlf, Sink, SinkOptions};
use support::test_pki::TestPki;
use support::{eventually, Options, Server};

const WAIT: Duration = Duration::from_secs(20);

/// A server relaying `remote.test` with `action` (after `relay`), the test
/// CA declared as `testca`. Returns the server and the directory of the
/// CA file (kept alive with it).
fn start(pki: &TestPki, action: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let config = format!(
        "ca testca cert \"{}\"\n\
         table secrets {{ \"bob\" = \"bob:s3cret\" }}\n\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay {action}\n\
         match from any for domain \"remote.test\" action \"out\"\n",
        ca.display()
    );
    let opts = Options {
        args: vec!["--resolver".into(), "127.0.0.1:1".into()],
        ..Options::default()
    };
    (Server::start_opts(&config, opts), dir)
}

fn send(server: &Server) {
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "alice@local.test",
        &["bob@remote.test"],
        "Subject: tls\n\n.dot\nsecret",
    );
    assert_eq!(r.code, 250);
}

fn wait_result(server: &Server, result: &str) -> String {
    let needle = format!("result=\"{result}\"");
    assert!(
        eventually(WAIT, || server.log.text().contains(&needle)),
        "no {needle} in the log:\n{}",
        server.log.text()
    );
    server.log.text()
}

#[test]
fn opportunistic_starttls_accepts_any_certificate() {
    // Verified against nothing: the server is not told about the CA.
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let (server, _ca) = start(&pki, &format!("host smtp://127.0.0.1:{}", sink.port()));
    send(&server);
    let log = wait_result(&server, "Ok");
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "the transaction ran in clear");
    assert!(log.contains("with TLS"), "{log}");
    assert!(sink.raw().iter().all(|r| only_crlf(r)));
}

/// A relay action's `pki` is the client certificate the mta shows: a peer
/// that demands one gets the mail; without it the handshake fails and the
/// mail waits.
#[test]
fn relay_pki_is_shown_as_the_client_certificate() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server_requiring_client_cert()),
        ..SinkOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let client = pki.write_client_pki(dir.path(), "client");
    let relay = format!("relay host smtp+tls://127.0.0.1:{} ca testca", sink.port());
    let config = format!(
        "ca testca cert \"{}\"\n{client}\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"with\" {relay} pki client\n\
         action \"without\" {relay}\n\
         match from any for domain \"remote.test\" action \"with\"\n\
         match from any for domain \"other.test\" action \"without\"\n",
        ca.display()
    );
    let opts = Options {
        args: vec!["--resolver".into(), "127.0.0.1:1".into()],
        ..Options::default()
    };
    let server = Server::start_opts(&config, opts);
    send(&server);
    wait_result(&server, "Ok");
    assert_eq!(sink.received().len(), 1);
    assert!(sink.received()[0].tls);

    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "alice@local.test",
        &["x@other.test"],
        "Subject: no cert\n\nx",
    );
    assert_eq!(r.code, 250);
    wait_result(&server, "TempFail");
    assert_eq!(
        sink.received().len(),
        1,
        "nothing arrived without the certificate"
    );
}

/// The relay action's `protocols` and `ciphers` (libtls syntax) limit
/// what the mta's handshake may agree on.
#[test]
fn relay_protocols_and_ciphers_limit_the_handshake() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let action = format!(
        "host smtp+tls://127.0.0.1:{} ca testca protocols \"tlsv1.2\" \
         ciphers \"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305\"",
        sink.port()
    );
    let (server, _ca) = start(&pki, &action);
    send(&server);
    let log = wait_result(&server, "Ok");
    assert!(sink.received()[0].tls, "the transaction ran in clear");
    let line = log
        .lines()
        .find(|l| l.contains("with TLS"))
        .unwrap_or_default();
    assert!(
        line.contains("TLSv1_2") && line.contains("CHACHA20_POLY1305"),
        "{line}"
    );
}

#[test]
fn a_failed_opportunistic_handshake_falls_back_to_plaintext() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        broken_tls: true,
        ..SinkOptions::default()
    });
    let (server, _ca) = start(&pki, &format!("host smtp://127.0.0.1:{}", sink.port()));
    send(&server);
    let log = wait_result(&server, "Ok");
    assert!(log.contains("trying again without TLS"), "{log}");
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert!(!got[0].tls);
    assert_eq!(sink.connections(), 2);
}

#[test]
fn mandatory_starttls_verified_with_the_actions_ca() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let action = format!("host smtp+tls://127.0.0.1:{} ca testca", sink.port());
    let (server, _ca) = start(&pki, &action);
    send(&server);
    wait_result(&server, "Ok");
    assert!(sink.received()[0].tls);
}

#[test]
fn a_certificate_that_does_not_verify_is_never_sent_to() {
    // Signed by a CA the server does not trust (the system bundle).
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let (server, _ca) = start(&pki, &format!("host smtp+tls://127.0.0.1:{}", sink.port()));
    send(&server);
    let log = wait_result(&server, "TempFail");
    assert!(log.contains("TLS handshake failed"), "{log}");
    assert!(sink.received().is_empty());
}

#[test]
fn required_tls_without_starttls_tempfails_and_sends_nothing() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions::default());
    let (server, _ca) = start(&pki, &format!("host smtp+tls://127.0.0.1:{}", sink.port()));
    send(&server);
    let log = wait_result(&server, "TempFail");
    assert!(log.contains("STARTTLS not offered"), "{log}");
    assert!(sink.received().is_empty());
    assert!(
        !sink
            .raw()
            .iter()
            .any(|r| r.windows(4).any(|w| w == b"MAIL")),
        "MAIL was sent in clear"
    );
}

#[test]
fn smtps_with_no_verify() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        implicit_tls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let action = format!("host smtps://127.0.0.1:{} tls no-verify", sink.port());
    let (server, _ca) = start(&pki, &action);
    send(&server);
    wait_result(&server, "Ok");
    assert!(sink.received()[0].tls);
}

#[test]
fn auth_over_tls_with_credentials_from_the_table() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        auth: Some(("bob".into(), "s3cret".into())),
        ..SinkOptions::default()
    });
    let action = format!(
        "host smtp+tls://bob@127.0.0.1:{} auth <secrets> ca testca",
        sink.port()
    );
    let (server, _ca) = start(&pki, &action);
    send(&server);
    let log = wait_result(&server, "Ok");
    let got = sink.received();
    assert_eq!(got[0].auth.as_deref(), Some("bob"));
    assert!(!log.contains("s3cret"), "the password was logged");
}

#[test]
fn auth_is_never_attempted_in_clear() {
    let pki = TestPki::new();
    let sink = Sink::start(SinkOptions::default());
    let action = format!(
        "host smtp+notls://bob@127.0.0.1:{} auth <secrets>",
        sink.port()
    );
    let (server, _ca) = start(&pki, &action);
    send(&server);
    let log = wait_result(&server, "TempFail");
    assert!(log.contains("plaintext"), "{log}");
    assert!(sink.received().is_empty());
    assert!(sink
        .raw()
        .iter()
        .all(|r| !String::from_utf8_lossy(r).contains("AUTH")));
}

#[test]
fn privileged_mta_verifies_tls_from_its_chroot() {
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
    let sink = Sink::start(SinkOptions {
        starttls: Some(pki.server.clone()),
        ..SinkOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let config = format!(
        "ca testca cert \"{}\"\n\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp+tls://127.0.0.1:{} ca testca\n\
         match from any for domain \"remote.test\" action \"out\"\n",
        ca.display(),
        sink.port()
    );
    let opts = Options {
        args: vec!["--resolver".into(), "127.0.0.1:1".into()],
        privileged: true,
        ..Options::default()
    };
    let server = Server::start_opts(&config, opts);
    assert!(!server.log.text().contains("running unprivileged"));
    send(&server);
    wait_result(&server, "Ok");
    assert!(sink.received()[0].tls);
}
