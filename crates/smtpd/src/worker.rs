//! The delivery worker: `smtpd -x worker`, started by the parent for one
//! user. It becomes that user first, then serves mda's jobs one at a time.

use anyhow::{anyhow, Context, Result};
use nix::unistd::{getgrouplist, Gid};
use smtpd_ipc::{BlockingChannel, ChannelError, Role};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use crate::msg::bootstrap::Account;
use crate::msg::worker::{Job, JobDone, WorkerSetup};
use crate::{deliver, logging, privsep};

pub fn main(ipc_fd: Option<i32>) -> ExitCode {
    match run(ipc_fd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtpd: delivery worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(ipc_fd: Option<i32>) -> Result<()> {
    let fd = ipc_fd.ok_or_else(|| anyhow!("-x worker needs --ipc-fd"))?;
    let fd = smtpd_ipc::os::adopt_inherited(fd)?;
    let mut ch = BlockingChannel::new(fd);
    let (setup, _): (WorkerSetup, _) = ch.recv(Role::Parent)?;
    logging::init("delivery", setup.foreground, setup.verbose);
    become_user(&setup)?;
    loop {
        let (job, mut fds): (Job, Vec<OwnedFd>) = match ch.recv(Role::Mda) {
            Ok(x) => x,
            Err(ChannelError::Closed(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let message = fds
            .pop()
            .map(File::from)
            .ok_or_else(|| anyhow!("job {} came without its message", job.id))?;
        let outcomes = deliver::run(&job, message);
        ch.send(
            &JobDone {
                id: job.id,
                outcomes,
            },
            &[],
        )?;
    }
}

/// Take the user's identity: uid, gid, the user's groups plus the extra
/// ones (the mbox directory's group), no way back.
fn become_user(setup: &WorkerSetup) -> Result<()> {
    if !setup.privileged {
        return privsep::no_new_privs();
    }
    let user = &setup.user;
    let name = CString::new(user.username.clone()).context("user name")?;
    let mut groups: Vec<u32> = getgrouplist(&name, Gid::from_raw(user.gid))
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    groups.extend(&setup.extra_groups);
    groups.retain(|g| *g != user.gid);
    let account = Account {
        name: user.username.clone(),
        uid: user.uid,
        gid: user.gid,
    };
    privsep::drop_to(&account, None, &groups)?;
    std::env::set_current_dir(&user.home).or_else(|_| std::env::set_current_dir("/"))?;
    Ok(())
}
