//! The faces other than smtpctl and sendmail: `mailq`, `newaliases`,
//! `makemap`.

use clap::Parser;
use smtpd_config::{Mapping, Method, TableSource};
use smtpd_table::makemap::{build, MapType};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smtpd_control_proto::{client::unexpected, Client, Request, Response};

use crate::cli::{finish, Place};
use crate::error::CtlError;
use crate::{show, text};

/// `mailq [--socket PATH] [--spool DIR]`: `smtpctl show queue`.
pub fn mailq(args: &[String]) -> ExitCode {
    #[derive(Parser)]
    #[command(name = "mailq", about = "List the mail queue (smtpctl show queue)")]
    struct Args {
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
    }
    let a = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    finish(show::queue(&Place::new(a.socket, a.spool), None))
}

/// The default configuration file.
const DEFAULT_CONF: &str = "/etc/mail/smtpd.conf";

/// `newaliases [-f FILE]`: rebuild every `db:` table the configuration
/// uses for aliases or virtual users from its source (the same path
/// without `.db`), as makemap -t aliases does; then, as OpenSMTPD's, ask
/// a running server to `update table` each of them, so that a `file:`
/// table's new contents count at once (a server that is not running will
/// read them when it starts).
pub fn newaliases(args: &[String]) -> ExitCode {
    let conf = match args {
        [] => PathBuf::from(DEFAULT_CONF),
        [f, path] if f == "-f" => PathBuf::from(path),
        _ => {
            eprintln!("usage: newaliases [-f file]");
            return ExitCode::from(2);
        }
    };
    match rebuild_aliases(&conf) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("newaliases: {e}");
            ExitCode::from(1)
        }
    }
}

fn rebuild_aliases(conf: &Path) -> Result<(), CtlError> {
    let parsed = smtpd_config::parse_file(conf, &smtpd_config::ParseOptions::default());
    if let Some(d) = parsed.diags.first() {
        return Err(CtlError::Failed(format!(
            "{}:{}: {}",
            d.file, d.line, d.message
        )));
    }
    let config = parsed.config;
    let mut names: Vec<&str> = Vec::new();
    for action in &config.actions {
        if let Method::Local(l) = &action.method {
            if let Some(Mapping::Alias(t) | Mapping::Virtual(t)) = &l.mapping {
                if !names.contains(&t.as_str()) {
                    names.push(t);
                }
            }
        }
    }
    if names.is_empty() {
        return text::say(&format!(
            "newaliases: {} uses no alias table: nothing to do",
            conf.display()
        ));
    }
    for name in names {
        let Some(table) = config.table(name) else {
            continue;
        };
        match &table.source {
            TableSource::Db { path } => {
                let Some(source) = path.strip_suffix(".db") else {
                    return Err(CtlError::Failed(format!(
                        "table {name}: {path} does not end in .db: which file is its source?"
                    )));
                };
                let report = build(Path::new(source), Some(Path::new(path)), MapType::Aliases)
                    .map_err(|e| CtlError::Failed(e.to_string()))?;
                text::say(&format!(
                    "newaliases: {}: {} entries",
                    report.output.display(),
                    report.entries
                ))?;
            }
            _ => text::say(&format!(
                "newaliases: table {name} is not a db table: nothing to rebuild"
            ))?,
        }
        reload(name)?;
    }
    Ok(())
}

/// `update table NAME` on the running server, if there is one.
fn reload(name: &str) -> Result<(), CtlError> {
    let place = Place::new(None, None);
    let mut client = match Client::connect(&place.socket) {
        Ok(c) => c,
        Err(e) if e.server_down() => return Ok(()),
        Err(e) => return Err(CtlError::Client(e)),
    };
    match client.request(&Request::UpdateTable(name.to_string()))?.0 {
        Response::Ok => text::say(&format!("newaliases: table {name} reloaded by smtpd")),
        Response::Failed(why) => Err(CtlError::Failed(format!("update table {name}: {why}"))),
        other => Err(CtlError::Client(unexpected(&other, "Ok"))),
    }
}

/// `makemap [-U] [-t aliases|set] [-o dbfile] [-d type] file`: the table
/// crate's makemap command line, for a `makemap` link to this program.
pub fn makemap(args: &[String]) -> ExitCode {
    smtpd_table::makemap_cli::main(args)
}
