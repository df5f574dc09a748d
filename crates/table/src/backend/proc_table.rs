//! Tables answered by an external program over OpenSMTPD's proc-table
//! protocol (smtpd-tables(7), version 0.1, OpenSMTPD 7.6 and later), so
//! that the table programs written for it (table-mysql, table-postgres,
//! table-sqlite, table-ldap, table-redis … of OpenSMTPD-extras) work here.
//!
//! `table NAME proc:/path/prog [args]` runs the program; any other unknown
//! `TYPE:CONFIG` runs `table-TYPE` from the libexec directories with the
//! table name as `argv[0]` and CONFIG as its argument. The program's stdin
//! and stdout are one end of a socket pair. The exchange:
//!
//! ```text
//! → config|smtpd-version|7.8.0  config|protocol|0.1  config|tablename|NAME  config|ready
//! ← register|SERVICE …  register|ready
//! → table|0.1|TIME|NAME|check|SERVICE|ID|KEY     ← check-result|ID|found|not-found|error|MSG
//! → table|0.1|TIME|NAME|lookup|SERVICE|ID|KEY    ← lookup-result|ID|found|VALUE / not-found / error|MSG
//! → table|0.1|TIME|NAME|fetch|SERVICE|ID         ← fetch-result|ID|found|VALUE / not-found / error|MSG
//! → table|0.1|TIME|NAME|update|ID                ← update-result|ID|ok / error|MSG
//! ```
//!
//! One request at a time (as OpenSMTPD), each answered within
//! [`ANSWER_TIMEOUT`]; a program that is slow, gone or answers nonsense is
//! a temporary failure of that lookup, never a crash of the server.
//! Written by hand: no crate speaks this protocol.

use crate::error::TableError;
use crate::service::{Service, ServiceSet};
use crate::spec::TableSpec;
use crate::table::{Table, TableKind};
use crate::value::{parse_value, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a program may take to answer one request (or to register at
/// start).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where `table-TYPE` programs are looked for, in order (OpenSMTPD's
/// default libexec directory first, then distributions' own).
pub const LIBEXEC_DIRS: &[&str] = &[
    "/usr/local/libexec/smtpd",
    "/usr/libexec/smtpd",
    "/usr/libexec/opensmtpd",
    "/usr/lib/x86_64-linux-gnu/opensmtpd",
];

/// The version we announce (the protocol's, not ours).
const SMTPD_VERSION: &str = "7.8.0";

struct Conn {
    out: UnixStream,
    input: BufReader<UnixStream>,
    next_id: u32,
}

/// A table answered by a program.
pub struct ProcTable {
    name: String,
    services: ServiceSet,
    conn: Mutex<Conn>,
    child: Mutex<Child>,
}

impl std::fmt::Debug for ProcTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcTable")
            .field("name", &self.name)
            .finish()
    }
}

impl Drop for ProcTable {
    fn drop(&mut self) {
        // Closing our end tells the program to go; it is ours to reap.
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The program and arguments a spec names.
fn command_of(spec: &TableSpec) -> Result<(PathBuf, Vec<String>), TableError> {
    let config = spec.path.as_ref().map(|p| p.to_string_lossy().into_owned());
    if spec.backend == "proc" {
        let cmd = config.ok_or_else(|| spec.bad("proc: needs a program"))?;
        let mut words = cmd.split_whitespace().map(str::to_string);
        let prog = words
            .next()
            .ok_or_else(|| spec.bad("proc: needs a program"))?;
        return Ok((PathBuf::from(prog), words.collect()));
    }
    let file = format!("table-{}", spec.backend);
    let prog = LIBEXEC_DIRS
        .iter()
        .map(|d| Path::new(d).join(&file))
        .find(|p| p.is_file())
        .ok_or_else(|| TableError::UnsupportedBackend(spec.backend.clone()))?;
    Ok((prog, config.into_iter().collect()))
}

fn backend_err(table: &str, reason: impl Into<String>) -> TableError {
    TableError::Backend {
        table: table.to_string(),
        reason: reason.into(),
    }
}

impl ProcTable {
    /// Start the program and read what it registers.
    pub fn open(spec: &TableSpec) -> Result<ProcTable, TableError> {
        let name = spec.name.as_str();
        let (prog, args) = command_of(spec)?;
        let sock = |e: std::io::Error| backend_err(name, format!("socketpair: {e}"));
        let (ours, theirs) = UnixStream::pair().map_err(sock)?;
        let theirs_out: OwnedFd = theirs.try_clone().map_err(sock)?.into();
        let mut cmd = Command::new(&prog);
        cmd.arg0(name)
            .args(&args)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(theirs_out))
            .stderr(Stdio::inherit());
        if let Some((uid, gid)) = spec.run_as {
            // Started by a root process: the program runs as the server's
            // unprivileged user, as OpenSMTPD's do.
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| backend_err(name, format!("{}: {e}", prog.display())))?;
        // The command holds the program's ends of the socket: without
        // them gone, a program that dies would never read as closed.
        drop(cmd);
        let input = ours.try_clone().map_err(sock)?;
        let _ = input.set_read_timeout(Some(ANSWER_TIMEOUT));
        let _ = ours.set_write_timeout(Some(ANSWER_TIMEOUT));
        let mut conn = Conn {
            out: ours,
            input: BufReader::new(input),
            next_id: 1,
        };
        let services = match handshake(name, &mut conn) {
            Ok(s) => s,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(ProcTable {
            name: name.to_string(),
            services,
            conn: Mutex::new(conn),
            child: Mutex::new(child),
        })
    }

    /// Send one request (`op` and its fields after the id) and return the
    /// answer's fields after `RESULT|ID|`.
    fn request(
        &self,
        op: &str,
        service: Option<Service>,
        key: Option<&str>,
    ) -> Result<String, TableError> {
        if let Some(k) = key {
            if k.contains(['\n', '\r']) {
                return Err(backend_err(&self.name, "a key with a line break"));
            }
        }
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let id = format!("{:08x}", c.next_id);
        c.next_id = c.next_id.wrapping_add(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "table|0.1|{}.{:06}|{}|{op}",
            now.as_secs(),
            now.subsec_micros(),
            self.name
        );
        if let Some(s) = service {
            line.push('|');
            line.push_str(s.name());
        }
        line.push('|');
        line.push_str(&id);
        if let Some(k) = key {
            line.push('|');
            line.push_str(k);
        }
        line.push('\n');
        c.out
            .write_all(line.as_bytes())
            .map_err(|e| backend_err(&self.name, format!("writing to the program: {e}")))?;
        let answer = read_line(&self.name, &mut c)?;
        let want = format!("{op}-result|{id}|");
        answer
            .strip_prefix(&want)
            .map(str::to_string)
            .ok_or_else(|| backend_err(&self.name, format!("unexpected answer {answer:?}")))
    }

    fn check_service(&self, service: Service) -> Result<(), TableError> {
        if self.services.contains(service) {
            Ok(())
        } else {
            Err(TableError::UnsupportedService {
                table: self.name.clone(),
                backend: "proc",
                service,
            })
        }
    }

    /// `found|VALUE`, `not-found`, `error|MSG` into a value.
    fn value_of(
        &self,
        service: Service,
        key: &str,
        rest: &str,
    ) -> Result<Option<Value>, TableError> {
        match rest.split_once('|').unwrap_or((rest, "")) {
            ("found", raw) => parse_value(service, key, raw)
                .map(Some)
                .map_err(|e| backend_err(&self.name, format!("bad value {raw:?}: {e}"))),
            ("not-found", _) => Ok(None),
            ("error", msg) => Err(backend_err(&self.name, msg)),
            _ => Err(backend_err(
                &self.name,
                format!("unexpected answer {rest:?}"),
            )),
        }
    }
}

/// Announce ourselves and read the services the program registers.
fn handshake(name: &str, c: &mut Conn) -> Result<ServiceSet, TableError> {
    let hello = format!(
        "config|smtpd-version|{SMTPD_VERSION}\nconfig|protocol|0.1\nconfig|tablename|{name}\nconfig|ready\n"
    );
    c.out
        .write_all(hello.as_bytes())
        .map_err(|e| backend_err(name, format!("writing to the program: {e}")))?;
    let mut services = Vec::new();
    loop {
        let line = read_line(name, c)?;
        match line.split_once('|') {
            Some(("register", "ready")) => break,
            Some(("register", s)) => {
                // `auth` (7.6) and services to come: not ours to use.
                if let Ok(s) = s.parse::<Service>() {
                    services.push(s);
                }
            }
            _ => {
                return Err(backend_err(
                    name,
                    format!("expected register|SERVICE, got {line:?}"),
                ))
            }
        }
    }
    if services.is_empty() {
        return Err(backend_err(name, "the program registered no service"));
    }
    Ok(ServiceSet::of(&services))
}

fn read_line(name: &str, c: &mut Conn) -> Result<String, TableError> {
    let mut line = String::new();
    match c.input.read_line(&mut line) {
        Ok(0) => Err(backend_err(name, "the program closed its end")),
        Ok(_) => Ok(line.trim_end_matches(['\n', '\r']).to_string()),
        Err(e) => Err(backend_err(name, format!("reading from the program: {e}"))),
    }
}

impl Table for ProcTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> &'static str {
        "proc"
    }

    fn services(&self) -> ServiceSet {
        self.services
    }

    fn kind(&self) -> TableKind {
        TableKind::Dynamic
    }

    fn lookup(&self, service: Service, key: &str) -> Result<Option<Value>, TableError> {
        self.check_service(service)?;
        let rest = self.request("lookup", Some(service), Some(key))?;
        self.value_of(service, key, &rest)
    }

    fn check(&self, service: Service, key: &str) -> Result<bool, TableError> {
        self.check_service(service)?;
        let rest = self.request("check", Some(service), Some(key))?;
        match rest.split_once('|').unwrap_or((&rest, "")) {
            ("found", _) => Ok(true),
            ("not-found", _) => Ok(false),
            ("error", msg) => Err(backend_err(&self.name, msg)),
            _ => Err(backend_err(
                &self.name,
                format!("unexpected answer {rest:?}"),
            )),
        }
    }

    fn fetch(&self, service: Service) -> Result<Option<Value>, TableError> {
        self.check_service(service)?;
        let rest = self.request("fetch", Some(service), None)?;
        self.value_of(service, "", &rest)
    }

    fn update(&self) -> Result<(), TableError> {
        let rest = self.request("update", None, None)?;
        match rest.split_once('|').unwrap_or((&rest, "")) {
            ("ok", _) => Ok(()),
            ("error", msg) => Err(backend_err(&self.name, msg)),
            _ => Err(backend_err(
                &self.name,
                format!("unexpected answer {rest:?}"),
            )),
        }
    }
}
