//! Dropping privileges: chroot, switch user, drop groups, no new privileges.
//!
//! Called by each child at the top of its entry, before it starts its
//! runtime (so the process is still single-threaded and the credentials of
//! the whole process change at once).

use anyhow::{bail, Context, Result};
use nix::unistd::{chdir, chroot, getegid, geteuid, setgroups, setresgid, setresuid, Gid, Uid};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::msg::bootstrap::Account;

/// Become `account`, chrooted into `root` if given, with no supplementary
/// group but `extra_groups`, and unable to gain privileges again (no setuid
/// binaries, no file capabilities).
pub fn drop_to(account: &Account, root: Option<&Path>, extra_groups: &[u32]) -> Result<()> {
    if let Some(dir) = root {
        check_chroot_dir(dir)?;
        chroot(dir).with_context(|| format!("chroot {}", dir.display()))?;
        chdir("/").context("chdir / after chroot")?;
    }
    let gid = Gid::from_raw(account.gid);
    let uid = Uid::from_raw(account.uid);
    let mut groups = vec![gid];
    groups.extend(extra_groups.iter().map(|g| Gid::from_raw(*g)));
    setgroups(&groups).context("setgroups")?;
    setresgid(gid, gid, gid).context("setresgid")?;
    setresuid(uid, uid, uid).context("setresuid")?;
    nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS)")?;
    if geteuid() != uid || getegid() != gid {
        bail!("privileges were not dropped to {}", account.name);
    }
    if account.uid != 0 && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        bail!("could regain root after dropping privileges");
    }
    Ok(())
}

/// Without root: stay who we are, but still refuse new privileges.
pub fn no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS)")
}

/// A chroot directory must belong to root and be writable by nobody else,
/// or a compromised process could plant files in its own jail.
pub fn check_chroot_dir(dir: &Path) -> Result<()> {
    let md = std::fs::metadata(dir).with_context(|| {
        format!(
            "chroot directory {} is missing: create it (mkdir -m 0755)",
            dir.display()
        )
    })?;
    if !md.is_dir() {
        bail!("chroot directory {} is not a directory", dir.display());
    }
    if md.uid() != 0 {
        bail!("chroot directory {} must be owned by root", dir.display());
    }
    if md.mode() & 0o022 != 0 {
        bail!(
            "chroot directory {} must not be writable by group or others",
            dir.display()
        );
    }
    Ok(())
}
