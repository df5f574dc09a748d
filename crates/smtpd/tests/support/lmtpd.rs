//! Real LMTP servers for the delivery tests: Dovecot's `lmtp` service in a
//! configuration of its own (Debian's `dovecot-lmtpd`), and a scriptable
//! one on Python's aiosmtpd (in LMTP mode) whose replies depend on the
//! recipient, for per-recipient failures Dovecot will not produce on
//! demand. Both store what they accept in Maildirs, read back with
//! Python's `mailbox`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{eventually, free_port, is_root, unsafe_free_kill};

/// The aiosmtpd server. Replies by the recipient's local part:
/// `perm…` is refused at RCPT with 550; `temp…` gets 451 at RCPT the first
/// time and is accepted afterwards; `quota…` is accepted at RCPT but gets
/// 452 after the data; everything else is accepted. Accepted messages go
/// into OUT/RCPT/ (a Maildir per recipient string); every transaction's
/// sender, recipient and LHLO name go to OUT/envelopes.log.
const PY_SERVER: &str = r#"
import asyncio, mailbox, os, sys
from aiosmtpd.lmtp import LMTP

out, where = sys.argv[1], sys.argv[2]
seen = {}

def log(line):
    with open(os.path.join(out, "envelopes.log"), "a") as f:
        f.write(line + "\n")

class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        seen[address] = seen.get(address, 0) + 1
        if local.startswith("perm"):
            log("refused=<%s>" % address)
            return "550 5.1.1 <%s> User unknown" % address
        if local.startswith("temp") and seen[address] == 1:
            log("deferred=<%s>" % address)
            return "451 4.3.0 <%s> Try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content.replace(b"\r\n", b"\n")
        replies = []
        for rcpt in envelope.rcpt_tos:
            if rcpt.split("@")[0].startswith("quota"):
                log("full=<%s>" % rcpt)
                replies.append("452 4.2.2 <%s> Mailbox full" % rcpt)
                continue
            mailbox.Maildir(os.path.join(out, rcpt), create=True).add(content)
            log("from=<%s> rcpt=<%s> lhlo=%s" % (envelope.mail_from, rcpt, session.host_name))
            replies.append("250 2.0.0 <%s> Saved" % rcpt)
        return "\r\n".join(replies)

async def main():
    loop = asyncio.get_running_loop()
    factory = lambda: LMTP(Handler(), decode_data=False, enable_SMTPUTF8=True)
    if where.startswith("/"):
        srv = await loop.create_unix_server(factory, where)
        print("READY", where, flush=True)
    else:
        srv = await loop.create_server(factory, "127.0.0.1", 0)
        print("READY", srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
"#;

/// A running LMTP server, stopped when dropped.
pub struct Lmtpd {
    child: Child,
    /// `host:port` or the socket path, as an `lmtp` action names it.
    pub dest: String,
    /// Where accepted messages are stored.
    pub out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Lmtpd {
    fn drop(&mut self) {
        unsafe_free_kill(self.child.id() as i32, nix::sys::signal::Signal::SIGTERM);
        let stopped = eventually(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Lmtpd {
    /// Start the aiosmtpd server on a loopback port (`unix == false`) or a
    /// Unix socket. `None` (with a note) if aiosmtpd is not installed.
    pub fn aiosmtpd(unix: bool) -> Option<Lmtpd> {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd.lmtp"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("skipped: aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let dir = tempdir_for_all("lmtpd-test-");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let socket = dir.path().join("lmtp.sock");
        let where_ = if unix {
            socket.to_string_lossy().into_owned()
        } else {
            "tcp".to_string()
        };
        let mut child = Command::new("python3")
            .args(["-c", PY_SERVER])
            .arg(&out)
            .arg(&where_)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the aiosmtpd LMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("READY"), "LMTP server said {line:?}");
        let at = parts.next().unwrap_or_default().to_string();
        if unix {
            // Delivery workers may run as another user.
            set_mode(&socket, 0o777);
        }
        let dest = if unix { at } else { format!("127.0.0.1:{at}") };
        Some(Lmtpd {
            child,
            dest,
            out,
            _dir: dir,
        })
    }

    /// The Maildir of one recipient string.
    pub fn maildir(&self, rcpt: &str) -> PathBuf {
        self.out.join(rcpt)
    }

    /// The lines of envelopes.log.
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.join("envelopes.log"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Start Dovecot's LMTP service on a loopback port and a Unix socket
    /// (`dest` is the port; [`Lmtpd::dovecot_socket`] the socket), with a
    /// static userdb: every user `NAME` (or `NAME@domain`) has the Maildir
    /// OUT/NAME/Maildir. Mail is stored as the invoking user, or as
    /// `nobody` under root (Dovecot refuses uid 0). `None` (with a note)
    /// if Dovecot is not installed.
    pub fn dovecot() -> Option<Lmtpd> {
        let bin = Path::new("/usr/sbin/dovecot");
        if !bin.exists() || !Path::new("/usr/lib/dovecot/lmtp").exists() {
            eprintln!(
                "skipped: Dovecot's LMTP server is not installed (apt-get install dovecot-lmtpd)"
            );
            return None;
        }
        let dir = tempdir_for_all("dovecot-test-");
        let base = dir.path().to_path_buf();
        let out = base.join("mail");
        for d in ["run", "state", "mail"] {
            std::fs::create_dir(base.join(d)).unwrap();
        }
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .expect("the invoking user");
        let group = nix::unistd::Group::from_gid(me.gid)
            .unwrap()
            .map(|g| g.name)
            .unwrap_or_else(|| me.gid.to_string());
        let (mail_uid, mail_gid) = if is_root() {
            (65534, 65534)
        } else {
            (me.uid.as_raw(), me.gid.as_raw())
        };
        std::os::unix::fs::chown(&out, Some(mail_uid), Some(mail_gid)).unwrap();
        let port = free_port();
        let conf = format!(
            r#"base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/dovecot.log
instance_name = smtpd-test-{port}
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:{b}/mail/%n/Maildir
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={b}/mail/%n
}}
passdb {{
  driver = static
  args = nopassword=y
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"#,
            b = base.display(),
            user = me.name,
        );
        let conf_path = base.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting dovecot");
        let d = Lmtpd {
            child,
            dest: format!("127.0.0.1:{port}"),
            out,
            _dir: dir,
        };
        let up = eventually(Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok() && d.dovecot_socket().exists()
        });
        if !up {
            let log = d.dovecot_log();
            panic!("dovecot did not start; its log:\n{log}");
        }
        Some(d)
    }

    /// Dovecot's LMTP socket.
    pub fn dovecot_socket(&self) -> PathBuf {
        self._dir.path().join("run/lmtp")
    }

    /// The Maildir Dovecot keeps for `user`.
    pub fn dovecot_maildir(&self, user: &str) -> PathBuf {
        self.out.join(user).join("Maildir")
    }

    /// Dovecot's own log.
    pub fn dovecot_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

/// A temporary directory everybody may traverse (LMTP clients and servers
/// may run as other users than the test).
fn tempdir_for_all(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    dir
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}
