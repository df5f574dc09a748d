//! `smtpd`: the mail server daemon.
//!
//! One binary, several faces: the parent (no `-x`), each child role
//! (`-x ROLE`), the delivery worker (`-x worker`) and the configuration
//! check (`-n`). See ARCHITECTURE.md for the process design.

mod check;
mod child;
mod cli;
mod conf;
mod deliver;
mod logging;
mod msg;
mod parent;
mod passwords;
mod peers;
mod pending;
mod privsep;
mod roles;
mod stats;
mod tls_choice;
mod worker;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.child_role.as_deref() {
        Some("worker") => return worker::main(cli.ipc_fd),
        Some(role) => return child::main(role, cli.ipc_fd),
        None => {}
    }
    if cli.check {
        return check::main(&cli);
    }
    parent::main(cli)
}
