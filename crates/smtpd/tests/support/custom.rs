//! Starting `smtpd` in ways [`Server::start_opts`] does not: through a
//! wrapper (a shell that lowers a limit first), or without `-f` at all
//! (the embedded default). The result is an ordinary [`Server`]: same log,
//! same clean-up.

use super::{Log, Server, SMTPD};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The usual arguments of a test server in `dir` (see `Server::start_on`)
/// with `config` written to `dir/smtpd.conf`.
pub fn standard_args(dir: &tempfile::TempDir, port: u16, config: &str) -> Vec<OsString> {
    let text = config
        .replace("{PORT}", &port.to_string())
        .replace("{DIR}", dir.path().to_str().unwrap());
    let config_path = dir.path().join("smtpd.conf");
    std::fs::write(&config_path, text).unwrap();
    let p = |rel: &str| dir.path().join(rel).into_os_string();
    vec![
        "-f".into(),
        config_path.into_os_string(),
        "--spool".into(),
        p("spool"),
        "--socket".into(),
        p("smtpd.sock"),
        "--mailbox-dir".into(),
        p("mail"),
        "--unprivileged".into(),
    ]
}

/// Run `smtpd -d ARGS…` in `dir`, with `shell_prefix` (a `sh -c` script
/// that ends in `exec "$0" "$@"`) in front when given, so that the process
/// we hold is smtpd itself.
pub fn start_custom(
    dir: tempfile::TempDir,
    port: u16,
    shell_prefix: Option<&str>,
    args: Vec<OsString>,
    wait_ready: bool,
) -> Server {
    let mut cmd = match shell_prefix {
        Some(script) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(script).arg(SMTPD);
            c
        }
        None => Command::new(SMTPD),
    };
    cmd.arg("-d")
        .args(&args)
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
        config_path: dir.path().join("smtpd.conf"),
        dir,
        log,
    };
    if wait_ready {
        server.wait_ready();
    }
    server
}
