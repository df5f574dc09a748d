//! The real system users of the privileged delivery tests (`smtpdtest1`,
//! `smtpdtest2`, created by .ci/setup-machine.sh) and a privileged server
//! whose directory they can reach.
//!
//! Homes are never the users' real ones: a `realusers` userbase gives each
//! user its real uid and gid but a home inside the server's temporary
//! directory, so that tests running at the same time (other test files,
//! other checkouts on the machine) never share a `~/.forward` or a Maildir.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{is_root, nodns, Options, Server};

/// A system user.
#[derive(Clone, Debug)]
pub struct SysUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub fn user(name: &str) -> Option<SysUser> {
    let u = nix::unistd::User::from_name(name).ok().flatten()?;
    Some(SysUser {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    })
}

/// The two test users and the server's own, when the test can run: as
/// root, with the users present. Otherwise prints why and gives `None`:
/// the caller returns (the test passes without having run).
pub fn setup(test: &str) -> Option<(SysUser, SysUser, SysUser)> {
    if !is_root() {
        eprintln!("{test}: skipped: needs root (CI runs the suite as root)");
        return None;
    }
    match (user("smtpdtest1"), user("smtpdtest2"), user("_smtpd")) {
        (Some(a), Some(b), Some(s)) => Some((a, b, s)),
        _ => {
            eprintln!("{test}: skipped: run .ci/setup-machine.sh to create the test users");
            None
        }
    }
}

/// `table realusers { … }`: the test users with their real ids and homes
/// DIR/home/NAME.
pub fn realusers_table(users: &[&SysUser]) -> String {
    if users.is_empty() {
        return String::new();
    }
    let entries: Vec<String> = users
        .iter()
        .map(|u| {
            format!(
                "\"{}\" = \"{}:{}:{{DIR}}/home/{}\"",
                u.name, u.uid, u.gid, u.name
            )
        })
        .collect();
    format!("table realusers {{ {} }}\n", entries.join(", "))
}

/// Start a privileged server. Its directory is made traversable (0711) so
/// that delivery workers running as the users reach their homes in it;
/// each user gets DIR/home/NAME (0755, theirs), and DIR/out is a sticky
/// world-writable drop box for what test commands write. `prepare` runs
/// before the server starts (for a mail spool that must exist by then).
pub fn start(config: &str, users: &[&SysUser], prepare: impl FnOnce(&Path)) -> Server {
    start_args(config, users, |dir| {
        prepare(dir);
        Vec::new()
    })
}

/// As [`start`], `prepare` also giving extra arguments for smtpd.
pub fn start_args(
    config: &str,
    users: &[&SysUser],
    prepare: impl FnOnce(&Path) -> Vec<String>,
) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    let p = dir.path();
    set_mode(p, 0o711);
    for u in users {
        let home = p.join("home").join(&u.name);
        std::fs::create_dir_all(&home).unwrap();
        chown(&home, u.uid, u.gid);
        set_mode(&home, 0o755);
    }
    if let Some(home) = users.first().map(|_| p.join("home")) {
        set_mode(&home, 0o755);
    }
    let out = p.join("out");
    std::fs::create_dir_all(&out).unwrap();
    set_mode(&out, 0o1777);
    let extra = prepare(p);
    let text = format!("{}{config}", realusers_table(users));
    let mut args = nodns::args();
    args.extend(extra);
    Server::start_in(
        dir,
        &text,
        Options {
            args,
            privileged: true,
            wait_ready: true,
        },
    )
}

pub fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

/// Write a file owned by `u` with `mode`.
pub fn write_as(p: &Path, text: &str, u: &SysUser, mode: u32) {
    std::fs::write(p, text).unwrap();
    chown(p, u.uid, u.gid);
    set_mode(p, mode);
}

/// Owner uid and gid of a file.
pub fn owner(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (md.uid(), md.gid())
}

/// The files in a Maildir's `new/`.
pub fn maildir_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("new"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
