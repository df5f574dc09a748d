//! Turning an envelope into a delivery job: the action's method, with its
//! paths and commands expanded for this recipient (format specifiers), the
//! headers a final delivery adds, and the environment of programs.

use smtpd_config::{Action, Config, LocalKind, Method as ActionMethod};
use smtpd_delivery::{
    delivery_headers, expand, expand_wrapper, DeliveryContext, MdaEnv, UserInfo as DUser,
};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, Envelope};
use std::path::Path;

use crate::msg::worker::{Job, Method};
use crate::msg::UserInfo;

/// How long a delivery program may run.
const PROGRAM_TIMEOUT_SECS: u64 = 300;

/// What every job of this process shares.
pub struct Setting<'a> {
    pub config: &'a Config,
    pub mailbox_dir: &'a Path,
    /// Our name for LMTP's LHLO.
    pub lhlo: &'a str,
    /// Started as root (deliveries to root are restricted).
    pub privileged: bool,
}

/// Build the job for `env`, delivered as `user`; an error is the outcome
/// to report instead.
pub fn build(
    set: &Setting<'_>,
    id: u64,
    env: &Envelope,
    action: &Action,
    user: &UserInfo,
) -> Result<Job, DeliveryOutcome> {
    let (config, mailbox_dir, lhlo, privileged) =
        (set.config, set.mailbox_dir, set.lhlo, set.privileged);
    let delim = config.smtp.sub_addr_delim;
    let ctx = DeliveryContext {
        sender: env.sender.clone(),
        rcpt: env.rcpt.clone(),
        dest: env.dest.clone(),
        user: DUser {
            username: user.username.clone(),
            directory: user.home.clone(),
            shell: user.shell.clone(),
        },
        subaddress: env.mda_subaddress.clone(),
        sub_addr_delim: delim,
    };
    let fmt = |template: &str| {
        expand(template, &ctx).map_err(|e| {
            DeliveryOutcome::tempfail(
                EnhancedStatus::new(4, 3, 5),
                format!("bad format in {template:?}: {e}"),
            )
        })
    };
    let program_env = || MdaEnv::new(&ctx, "/bin/sh").to_pairs();
    let method = if let Some(path) = &env.mda_file {
        Method::File { path: path.clone() }
    } else if let Some(cmd) = &env.mda_exec {
        Method::Command {
            command: cmd.clone(),
            env: program_env(),
            directory: user.home.clone(),
            timeout_secs: PROGRAM_TIMEOUT_SECS,
        }
    } else {
        let local = match &action.method {
            ActionMethod::Local(l) => l,
            ActionMethod::Relay(_) => {
                return Err(DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 3, 5),
                    format!("action {} relays: not a local delivery", action.name),
                ))
            }
        };
        match &local.kind {
            LocalKind::Mbox => Method::Mbox {
                path: mailbox_dir
                    .join(&user.username)
                    .to_string_lossy()
                    .into_owned(),
            },
            LocalKind::Maildir { path, junk } => {
                let template = match path.as_deref() {
                    None => "~/Maildir",
                    Some(p) => p,
                };
                Method::Maildir {
                    path: fmt(template)?,
                    junk: *junk,
                    extension: env.mda_subaddress.clone(),
                }
            }
            LocalKind::Mda { command } => {
                let mut cmd = fmt(command)?;
                if let Some(w) = &local.wrapper {
                    let wrapper = config
                        .mda
                        .wrappers
                        .iter()
                        .find(|x| &x.name == w)
                        .ok_or_else(|| {
                            DeliveryOutcome::tempfail(
                                EnhancedStatus::new(4, 3, 5),
                                format!("unknown mda wrapper {w}"),
                            )
                        })?;
                    cmd = expand_wrapper(&wrapper.command, &ctx, &cmd).map_err(|e| {
                        DeliveryOutcome::tempfail(
                            EnhancedStatus::new(4, 3, 5),
                            format!("mda wrapper {w}: {e}"),
                        )
                    })?;
                }
                Method::Command {
                    command: cmd,
                    env: program_env(),
                    directory: user.home.clone(),
                    timeout_secs: PROGRAM_TIMEOUT_SECS,
                }
            }
            LocalKind::Lmtp { dest, rcpt_to } => {
                // OpenSMTPD's mail.lmtp: `rcpt-to` sends RECIPIENT, the
                // address after expansion; otherwise USER, the local user.
                let rcpt = if *rcpt_to {
                    env.dest.to_string()
                } else {
                    user.username.clone()
                };
                Method::Lmtp {
                    dest: fmt(dest)?,
                    lhlo: lhlo.to_string(),
                    rcpts: vec![rcpt],
                }
            }
            LocalKind::ForwardOnly | LocalKind::ExpandOnly => {
                return Err(DeliveryOutcome::permfail(
                    EnhancedStatus::new(5, 3, 5),
                    format!("action {} has no delivery method", action.name),
                ))
            }
        }
    };
    // Root's mail is not written by programs or into files as root (only
    // plain mbox); in development mode everything runs as the invoking
    // user anyway, whoever that is.
    if privileged && user.uid == 0 && !matches!(method, Method::Mbox { .. }) {
        return Err(DeliveryOutcome::permfail(
            EnhancedStatus::new(5, 7, 1),
            "MDA not allowed to deliver to root (use an alias)",
        ));
    }
    Ok(Job {
        id,
        method,
        sender: env.sender.clone(),
        // Delivered-To names the recipient as given in RCPT TO, as
        // OpenSMTPD's mda writes it (not the address after expansion).
        prepend: delivery_headers(env.sender.as_ref(), &env.rcpt),
    })
}

/// The name of the method, for the log line.
pub fn method_name(m: &Method) -> &'static str {
    match m {
        Method::Maildir { .. } => "maildir",
        Method::Mbox { .. } => "mbox",
        Method::File { .. } => "file",
        Method::Command { .. } => "mda",
        Method::Lmtp { .. } => "lmtp",
    }
}
