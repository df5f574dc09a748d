//! smtpctl(8) and the faces Unix programs expect, chosen by the name the
//! program was started under (a link to it): `mailq` (`smtpctl show
//! queue`), `sendmail`/`send-mail` (enqueue a message from standard
//! input), `newaliases` (rebuild the `db` alias tables) and `makemap`.

mod cli;
mod commands;
mod encrypt;
mod error;
mod faces;
mod monitor;
mod parser;
mod sendmail;
mod show;
mod text;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let name = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    match name.as_str() {
        "mailq" => faces::mailq(&args),
        "sendmail" | "send-mail" => sendmail::main(&args[1..]),
        "newaliases" => faces::newaliases(&args[1..]),
        "makemap" => faces::makemap(&args),
        _ => cli::main(&args),
    }
}
