//! The full check of `smtpd -n`: tables through the daemon's CheckEnv,
//! certificates and keys from disk, listener addresses.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::ok;
use smtpd_config::*;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

struct Env {
    certs: PathBuf,
    /// Tables that fail to open.
    broken: Vec<&'static str>,
    opened: RefCell<Vec<(String, Vec<Service>)>>,
    server_name: Option<String>,
}

impl Env {
    fn new(certs: &Path) -> Self {
        Env {
            certs: certs.to_path_buf(),
            broken: Vec::new(),
            opened: RefCell::new(Vec::new()),
            server_name: None,
        }
    }
}

impl CheckEnv for Env {
    fn open_table(&self, t: &TableDef, services: &[Service]) -> Result<(), String> {
        self.opened
            .borrow_mut()
            .push((t.name.clone(), services.to_vec()));
        if self.broken.contains(&t.name.as_str()) {
            return Err("No such file or directory".into());
        }
        Ok(())
    }

    fn certs_dir(&self) -> PathBuf {
        self.certs.clone()
    }

    fn server_name(&self) -> Option<String> {
        self.server_name.clone()
    }

    /// No DNS in tests: only addresses, localhost and `lo` resolve.
    fn resolve(&self, l: &Listener) -> Result<Vec<SocketAddr>, String> {
        match &l.on {
            ListenOn::Name(n) if n != "lo" => Err(format!("invalid virtual ip or interface: {n}")),
            _ => iface::resolve_listener(l).map_err(|e| e.to_string()),
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn messages(diags: &[Diag]) -> Vec<String> {
    diags
        .iter()
        .map(|d| format!("{}: {}", d.line, d.message))
        .collect()
}

#[test]
fn a_good_configuration_passes() {
    let dir = tempfile::tempdir().unwrap();
    let crt = write(dir.path(), "mx.crt", CERT);
    let key = write(dir.path(), "mx.key", KEY);
    let c = ok(&format!(
        "table aliases file:/etc/mail/aliases\npki mx.example.org cert \"{crt}\"\npki mx.example.org key \"{key}\"\n\
         listen on 127.0.0.1 port 2525 tls pki mx.example.org\nlisten on localhost\nlisten on lo\n\
         action \"local\" mbox alias <aliases>\nmatch from any for domain {{ example.org }} action \"local\"\n"
    ));
    let env = Env::new(dir.path());
    assert_eq!(messages(&full_check(&c, &env)), Vec::<String>::new());
    // Tables are opened for the services they serve.
    let opened = env.opened.borrow();
    assert_eq!(opened[0], ("aliases".to_string(), vec![Service::Alias]));
    assert_eq!(opened[1].1, vec![Service::Domain]);
}

#[test]
fn tables_that_do_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let c = ok("table aliases file:/etc/mail/aliases\naction \"local\" mbox alias <aliases>\nmatch for local action \"local\"\n");
    let mut env = Env::new(dir.path());
    env.broken.push("aliases");
    assert_eq!(
        messages(&full_check(&c, &env)),
        ["1: table aliases: No such file or directory"]
    );
}

#[test]
fn certificates_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let crt = write(dir.path(), "c.pem", CERT);
    let junk = write(dir.path(), "junk.pem", "not pem at all\n");
    let c = ok(&format!(
        "pki a cert \"{crt}\"\npki a key \"{junk}\"\npki b cert \"/nonexistent/b.crt\"\npki c key \"{crt}\"\n\
         ca ca1 cert \"{junk}\"\nmatch for any reject\n"
    ));
    let m = messages(&full_check(&c, &Env::new(dir.path())));
    assert_eq!(m.len(), 6, "{m:#?}");
    // A pki is reported where it is first declared.
    assert!(
        m[0].starts_with("1: pki a: key") && m[0].ends_with("no PEM private key in file"),
        "{m:#?}"
    );
    assert!(
        m[1].starts_with("3: pki b: certificate /nonexistent/b.crt:"),
        "{m:#?}"
    );
    assert_eq!(m[2], "3: pki b: no key file (pki b key FILE)");
    assert_eq!(m[3], "4: pki c: no certificate file (pki c cert FILE)");
    assert!(
        m[4].starts_with("4: pki c: key") && m[4].ends_with("no PEM private key in file"),
        "{m:#?}"
    );
    assert!(
        m[5].starts_with("5: ca ca1: certificate") && m[5].ends_with("no PEM certificate in file"),
        "{m:#?}"
    );
}

#[test]
fn tls_without_pki_finds_the_certificate_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mail.example.org.crt", CERT);
    write(dir.path(), "mail.example.org.key", KEY);
    // Found by the listener's hostname, by the server name, and by the old
    // `certificate NAME`.
    let c = ok("listen on lo tls hostname mail.example.org\nlisten on 127.0.0.1 port 465 smtps certificate mail.example.org\n\
                match for any reject\n");
    assert!(full_check(&c, &Env::new(dir.path())).is_empty());
    let c = ok("listen on lo tls\nmatch for any reject\n");
    let mut env = Env::new(dir.path());
    env.server_name = Some("mail.example.org".into());
    assert!(full_check(&c, &env).is_empty());
    // Nothing found: an error naming what was tried.
    let c = ok("listen on lo tls hostname other.example.org\nlisten on lo smtps certificate missing\nmatch for any reject\n");
    let m = messages(&full_check(&c, &Env::new(dir.path())));
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m[0].contains("no pki given, and none found for other.example.org, lo"),
        "{m:#?}"
    );
    assert!(m[1].contains("missing.crt"), "{m:#?}");
}

#[test]
fn listeners_must_have_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let c = ok("listen on nosuch0\nlisten on socket\nmatch for any reject\n");
    assert_eq!(
        messages(&full_check(&c, &Env::new(dir.path()))),
        ["1: listen on nosuch0: invalid virtual ip or interface: nosuch0"]
    );
}

#[test]
fn queue_key_length() {
    let dir = tempfile::tempdir().unwrap();
    let c = ok("queue encryption xxxxxxx\nmatch for any reject\n");
    let m = messages(&full_check(&c, &Env::new(dir.path())));
    assert_eq!(m.len(), 1);
    assert!(m[0].starts_with("1: queue encryption key must be exactly 32 characters, found 7"));
}
