//! Running one delivery job inside the worker (as the user): the methods
//! themselves are the delivery crate's; this maps a job onto them.

use smtpd_delivery::{
    append_to_file, deliver_lmtp, deliver_maildir, deliver_mbox, run_mda, DeliveryError, LmtpDest,
    LmtpOptions, MaildirOptions, MboxOptions, MdaCommand,
};
use smtpd_types::{DeliveryOutcome, EnhancedStatus};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::msg::worker::{Job, Method};

/// Deliver `message` as `job` says; one outcome per recipient (several
/// only for LMTP).
pub fn run(job: &Job, mut message: File) -> Vec<DeliveryOutcome> {
    let sender = job.sender.as_ref();
    let prepend = &job.prepend;
    let one = |r: Result<(), DeliveryError>| {
        vec![r.map_or_else(DeliveryOutcome::from, |()| DeliveryOutcome::Ok)]
    };
    match &job.method {
        Method::Maildir {
            path,
            junk,
            extension,
        } => {
            let opts = MaildirOptions {
                junk: *junk,
                extension: extension.clone(),
            };
            one(deliver_maildir(Path::new(path), &opts, prepend, &mut message).map(drop))
        }
        Method::Mbox { path } => one(deliver_mbox(
            Path::new(path),
            sender,
            &MboxOptions::default(),
            prepend,
            &mut message,
        )),
        Method::File { path } => one(append_to_file(
            Path::new(path),
            sender,
            &MboxOptions::default(),
            prepend,
            &mut message,
        )),
        Method::Command {
            command,
            env,
            directory,
            timeout_secs,
        } => {
            let cmd = MdaCommand {
                command: command.clone(),
                shell: PathBuf::from("/bin/sh"),
                directory: PathBuf::from(directory),
                env: env.clone(),
                timeout: Duration::from_secs(*timeout_secs),
            };
            one(run_mda(&cmd, prepend, &mut message))
        }
        Method::Lmtp { dest, lhlo, rcpts } => match LmtpDest::parse(dest) {
            Ok(d) => {
                let opts = LmtpOptions {
                    lhlo_name: lhlo.clone(),
                    ..LmtpOptions::default()
                };
                deliver_lmtp(&d, &opts, sender, rcpts, prepend, &mut message)
            }
            Err(e) => {
                let o = DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 3, 5),
                    format!("bad LMTP destination {dest:?}: {e}"),
                );
                vec![o; rcpts.len().max(1)]
            }
        },
    }
}
