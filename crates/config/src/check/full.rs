//! The full check of `smtpd -n`: what the syntax check cannot know without
//! the system — tables open, certificates and keys load, listeners have
//! addresses, the queue key is usable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::diag::Diag;
use crate::iface;
use crate::model::{Config, ListenOn, Listener, ListenerTls, Service, Span, TableDef, TableOrigin};

/// What the daemon provides to the full check.
pub trait CheckEnv {
    /// Open `table` for the `services` the configuration uses it for (and
    /// close it again); `Err` says why it cannot serve them. Called for
    /// every table, inline ones included, but not for builtins.
    fn open_table(&self, table: &TableDef, services: &[Service]) -> Result<(), String>;

    /// Where old releases looked certificates up by name
    /// (`NAME.crt` / `NAME.key`).
    fn certs_dir(&self) -> PathBuf {
        PathBuf::from("/etc/mail/certs")
    }

    /// The server name, under which a TLS listener with neither `pki` nor
    /// `hostname` finds its certificate.
    fn server_name(&self) -> Option<String> {
        None
    }

    /// The addresses a listener binds (by default the system's interfaces
    /// and resolver, see [`iface::resolve_listener`]).
    fn resolve(&self, listener: &Listener) -> Result<Vec<SocketAddr>, String> {
        iface::resolve_listener(listener).map_err(|e| e.to_string())
    }
}

/// Check `cfg` against the system; every problem is reported, at the
/// position of the item it concerns.
pub fn full_check(cfg: &Config, env: &dyn CheckEnv) -> Vec<Diag> {
    let mut diags = Vec::new();
    check_tables(cfg, env, &mut diags);
    check_tls(cfg, env, &mut diags);
    for l in &cfg.listeners {
        if l.on == ListenOn::Socket {
            continue;
        }
        match env.resolve(l) {
            Ok(v) if !v.is_empty() => {}
            Ok(_) => diags.push(Diag::at(
                &l.span,
                format!("listen on {}: no address to listen on", on_name(l)),
            )),
            Err(e) => diags.push(Diag::at(&l.span, format!("listen on {}: {e}", on_name(l)))),
        }
    }
    if let Some(e) = &cfg.queue.encryption {
        if let crate::model::QueueKey::Key(k) = &e.key {
            if k.len() != 32 {
                diags.push(Diag::at(
                    &e.span,
                    format!(
                        "queue encryption key must be exactly 32 characters, found {} \
                         (create one with: openssl rand -hex 16)",
                        k.len()
                    ),
                ));
            }
        }
    }
    diags
}

fn on_name(l: &Listener) -> String {
    match &l.on {
        ListenOn::Socket => "socket".into(),
        ListenOn::Localhost => "localhost".into(),
        ListenOn::All => "all".into(),
        ListenOn::Addr(ip) => ip.to_string(),
        ListenOn::Name(n) => n.clone(),
    }
}

fn check_tables(cfg: &Config, env: &dyn CheckEnv, diags: &mut Vec<Diag>) {
    let mut services: HashMap<&str, Vec<Service>> = HashMap::new();
    let uses = cfg.table_uses();
    for u in &uses {
        let v = services.entry(u.table.as_str()).or_default();
        if !v.contains(&u.service) {
            v.push(u.service);
        }
    }
    for t in &cfg.tables {
        let svc = services
            .get(t.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if let Err(e) = env.open_table(t, svc) {
            let what = match t.origin {
                TableOrigin::Declared => format!("table {}", t.name),
                _ => "inline table".to_string(),
            };
            diags.push(Diag::at(&t.span, format!("{what}: {e}")));
        }
    }
}

fn check_tls(cfg: &Config, env: &dyn CheckEnv, diags: &mut Vec<Diag>) {
    for p in &cfg.pkis {
        match &p.cert {
            Some(f) => {
                if let Err(e) = load_certs(Path::new(f)) {
                    diags.push(Diag::at(
                        &p.span,
                        format!("pki {}: certificate {f}: {e}", p.name),
                    ));
                }
            }
            None => diags.push(Diag::at(
                &p.span,
                format!(
                    "pki {}: no certificate file (pki {} cert FILE)",
                    p.name, p.name
                ),
            )),
        }
        match &p.key {
            Some(f) => {
                if let Err(e) = load_key(Path::new(f)) {
                    diags.push(Diag::at(&p.span, format!("pki {}: key {f}: {e}", p.name)));
                }
            }
            None => diags.push(Diag::at(
                &p.span,
                format!("pki {}: no key file (pki {} key FILE)", p.name, p.name),
            )),
        }
    }
    for p in &cfg.pkis {
        if let Some(f) = &p.ca_file {
            if let Err(e) = load_certs(Path::new(f)) {
                diags.push(Diag::at(&p.span, format!("pki {}: ca {f}: {e}", p.name)));
            }
        }
    }
    for c in &cfg.cas {
        if let Some(f) = &c.cert {
            if let Err(e) = load_certs(Path::new(f)) {
                diags.push(Diag::at(
                    &c.span,
                    format!("ca {}: certificate {f}: {e}", c.name),
                ));
            }
        }
    }
    for l in &cfg.listeners {
        if !l.tls.is_tls() {
            continue;
        }
        let verify = matches!(
            l.tls,
            ListenerTls::StartTls { verify: true, .. } | ListenerTls::Smtps { verify: true }
        );
        let pki_ca = l
            .pki
            .iter()
            .any(|n| cfg.pki(n).is_some_and(|p| p.ca_file.is_some()));
        if verify && l.ca.is_none() && !pki_ca {
            diags.push(Diag::at(
                &l.span,
                format!(
                    "listen on {}: verify needs the CA of the client certificates (ca NAME)",
                    on_name(l)
                ),
            ));
        }
        if l.pki.is_empty() {
            // Old releases found the certificate by the listener's name.
            let mut names: Vec<String> = Vec::new();
            names.extend(l.hostname.clone());
            names.extend(env.server_name());
            if let ListenOn::Name(n) = &l.on {
                names.push(n.clone());
            }
            if !names
                .iter()
                .any(|n| cert_by_name(cfg, env, n, &l.span).is_ok())
            {
                diags.push(Diag::at(
                    &l.span,
                    format!(
                        "listen on {}: TLS needs a certificate: no pki given, and none found for {} \
                         (declare pki NAME, or install {}/NAME.crt and NAME.key)",
                        on_name(l),
                        if names.is_empty() { "this listener".to_string() } else { names.join(", ") },
                        env.certs_dir().display()
                    ),
                ));
            }
            continue;
        }
        for name in &l.pki {
            if cfg.pki(name).is_some() {
                continue; // loaded above
            }
            // Old `certificate NAME`: files in the certificates directory.
            if let Err(e) = cert_by_name(cfg, env, name, &l.span) {
                diags.push(e);
            }
        }
    }
}

/// A declared pki of that name, or `DIR/NAME.crt` and `DIR/NAME.key`.
fn cert_by_name(cfg: &Config, env: &dyn CheckEnv, name: &str, at: &Span) -> Result<(), Diag> {
    if cfg.pki(name).is_some() {
        return Ok(());
    }
    let dir = env.certs_dir();
    let crt = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    load_certs(&crt).map_err(|e| Diag::at(at, format!("certificate {}: {e}", crt.display())))?;
    load_key(&key).map_err(|e| Diag::at(at, format!("key {}: {e}", key.display())))?;
    Ok(())
}

/// The file holds at least one PEM certificate.
fn load_certs(path: &Path) -> Result<usize, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut rd = data.as_slice();
    let mut n = 0;
    for c in rustls_pemfile::certs(&mut rd) {
        c.map_err(|e| format!("bad PEM: {e}"))?;
        n += 1;
    }
    if n == 0 {
        return Err("no PEM certificate in file".to_string());
    }
    Ok(n)
}

/// The file holds a PEM private key.
fn load_key(path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut rd = data.as_slice();
    match rustls_pemfile::private_key(&mut rd) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("no PEM private key in file".to_string()),
        Err(e) => Err(format!("bad PEM: {e}")),
    }
}
