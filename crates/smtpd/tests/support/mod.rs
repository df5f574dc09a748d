//! The harness of the end-to-end tests: start the real `smtpd` binary on a
//! free loopback port with a config written for the test, talk SMTP to it
//! over TCP, look at its processes in /proc and at the mail it delivered.
//! Every server is stopped and its directory removed when the test ends.

#![allow(dead_code)]

pub mod accounts;
pub mod client;
pub mod conf;
pub mod custom;
pub mod dns;
pub mod fake_parent;
pub mod lmtpd;
pub mod local;
pub mod mailbox;
pub mod message;
pub mod mx_dns;
pub mod nodns;
pub mod procs;
pub mod programs;
pub mod pymail;
pub mod sink;
pub mod smtpctl;
pub mod source;
pub mod spool;
pub mod sysusers;
pub mod test_pki;
pub mod tls_client;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const SMTPD: &str = env!("CARGO_BIN_EXE_smtpd");

/// The empty directory privileged test servers chroot their roles into.
pub const EMPTY_DIR: &str = "/var/empty";

/// A port nobody listens on right now (bound then released; the small race
/// with other tests is acceptable on loopback).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// The log of a running server, shared with the thread reading its stderr.
#[derive(Clone, Default)]
pub struct Log {
    inner: Arc<(Mutex<String>, Condvar)>,
}

impl Log {
    fn push(&self, line: &str) {
        let (m, cv) = &*self.inner;
        let mut s = m.lock().unwrap();
        s.push_str(line);
        s.push('\n');
        cv.notify_all();
    }

    pub fn text(&self) -> String {
        self.inner.0.lock().unwrap().clone()
    }

    /// Wait until the log contains `needle`; false after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let (m, cv) = &*self.inner;
        let deadline = Instant::now() + timeout;
        let mut s = m.lock().unwrap();
        loop {
            if s.contains(needle) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = cv.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Wait (up to 10 s) for a line containing `needle`, which another
    /// process may write after the reply the test already read; panics
    /// with the whole log if it never comes.
    pub fn expect(&self, needle: &str) {
        assert!(
            self.wait_for(needle, Duration::from_secs(10)),
            "expected {needle:?} in the log; log:\n{}",
            self.text()
        );
    }

    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// Options for starting a server.
pub struct Options {
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Run privileged (root only; otherwise `--unprivileged`).
    pub privileged: bool,
    /// Wait for the "ready" line.
    pub wait_ready: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            args: Vec::new(),
            privileged: false,
            wait_ready: true,
        }
    }
}

/// A running `smtpd -d`.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub log: Log,
    pub config_path: PathBuf,
}

impl Server {
    /// Start a server whose config is `config` with `{PORT}` and `{DIR}`
    /// replaced by its port and its temporary directory.
    pub fn start(config: &str) -> Server {
        Server::start_opts(config, Options::default())
    }

    pub fn start_opts(config: &str, opts: Options) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("smtpd-test-")
            .tempdir()
            .expect("temp dir");
        Server::start_in(dir, config, opts)
    }

    /// Start in an existing directory (a restart keeps the spool).
    pub fn start_in(dir: tempfile::TempDir, config: &str, opts: Options) -> Server {
        Server::start_on(dir, free_port(), config, opts)
    }

    pub fn start_on(dir: tempfile::TempDir, port: u16, config: &str, opts: Options) -> Server {
        let text = expand_catchall(config)
            .replace("{PORT}", &port.to_string())
            .replace("{DIR}", dir.path().to_str().unwrap());
        let config_path = dir.path().join("smtpd.conf");
        std::fs::write(&config_path, text).unwrap();
        let mut cmd = Command::new(SMTPD);
        cmd.arg("-d")
            .arg("-f")
            .arg(&config_path)
            .arg("--spool")
            .arg(dir.path().join("spool"))
            .arg("--socket")
            .arg(dir.path().join("smtpd.sock"))
            .arg("--mailbox-dir")
            .arg(dir.path().join("mail"));
        if !opts.privileged {
            cmd.arg("--unprivileged");
        } else if !opts.args.iter().any(|a| a == "--empty") {
            // The chroot of the unprivileged roles: root-owned, not
            // writable by others (the daemon's default, made explicit).
            cmd.arg("--empty").arg(EMPTY_DIR);
        }
        cmd.args(&opts.args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starting smtpd");
        let log = Log::default();
        let stderr = child.stderr.take().unwrap();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("SMTPD_TEST_LOG").is_some() {
                    eprintln!("[smtpd] {line}");
                }
                l2.push(&line);
            }
        });
        let server = Server {
            child: Some(child),
            port,
            dir,
            log,
            config_path,
        };
        if opts.wait_ready {
            server.wait_ready();
        }
        server
    }

    pub fn wait_ready(&self) {
        if !self.log.wait_for("smtpd ready", Duration::from_secs(20)) {
            panic!("smtpd did not become ready; log:\n{}", self.log.text());
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The children of the parent, by role (from their titles).
    pub fn roles(&self) -> HashMap<String, u32> {
        procs::children_by_role(self.pid())
    }

    pub fn smtp(&self) -> client::Client {
        client::Client::connect(("127.0.0.1", self.port))
    }

    /// SIGTERM, then wait for the exit (at most `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.pid() as i32;
        unsafe_free_kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.wait_exit(timeout)
    }

    /// Wait for the parent to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server (if running) and give back its directory, for a
    /// restart on the same spool.
    pub fn stop_keep_dir(mut self) -> tempfile::TempDir {
        self.kill_all();
        let dir = tempfile::Builder::new().tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Kill the whole tree at once (SIGKILL): a crash.
    pub fn crash(&mut self) {
        self.kill_all();
    }

    fn kill_all(&mut self) {
        // Once the server has exited there is no tree to kill; asking
        // for the descendants of pid 0 would name every process.
        if self.child.is_none() {
            return;
        }
        let pids: Vec<u32> = procs::descendants(self.pid());
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for p in &pids {
            unsafe_free_kill(*p as i32, nix::sys::signal::Signal::SIGKILL);
        }
        // The children are reaped by init once their parent is gone; wait
        // until they are, so that the next server can bind the same port.
        eventually(Duration::from_secs(5), || !procs::any_alive(&pids));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            let pid = self.pid();
            let pids = procs::descendants(pid);
            unsafe_free_kill(pid as i32, nix::sys::signal::Signal::SIGTERM);
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                self.kill_all();
            }
            for p in pids {
                unsafe_free_kill(p as i32, nix::sys::signal::Signal::SIGKILL);
            }
        }
        if std::thread::panicking() {
            eprintln!("---- smtpd log ----\n{}", self.log.text());
        }
    }
}

/// Send a signal to a process we started.
pub fn unsafe_free_kill(pid: i32, sig: nix::sys::signal::Signal) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Is the test running as root (CI)?
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Poll `f` until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_dir_names(p: &Path) -> Vec<String> {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `{CATCHALL}` in a test config stands for `virtual <catchall> userbase
/// <catchall_users>`: every address is delivered as the invoking user (the
/// two tables are added at the top). With OpenSMTPD's semantics a local
/// recipient must otherwise be a user of the userbase.
pub fn expand_catchall(config: &str) -> String {
    if !config.contains("{CATCHALL}") {
        return config.to_string();
    }
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .expect("the invoking user has a passwd entry");
    format!(
        "table catchall {{ \"@\" = \"{n}\" }}\ntable catchall_users {{ \"{n}\" = \"{u}:{g}:{{DIR}}\" }}\n{}",
        config.replace("{CATCHALL}", "virtual <catchall> userbase <catchall_users>"),
        n = me.name,
        u = me.uid,
        g = me.gid,
    )
}
