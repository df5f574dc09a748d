//! makemap(8)'s command line, `makemap [-U] [-t aliases|set] [-o dbfile]
//! [-d type] file`: one definition for the `makemap` binary of this crate
//! and smtpctl's `makemap` face. Errors go to standard error as
//! `makemap: …` with the file and line of a bad entry; the exit status is
//! 1 on any error.

use crate::makemap::{build, dump, MapType};
use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "makemap",
    about = "Build a table database for smtpd, or dump one",
    disable_version_flag = true
)]
struct Args {
    /// Dump the database FILE to standard output instead of building one.
    #[arg(short = 'U')]
    dump: bool,

    /// What FILE holds: `aliases` (values checked as aliases(5) lists) or
    /// `set` (keys only). Default: `key value` lines.
    #[arg(short = 't', value_name = "TYPE", value_parser = ["aliases", "set"])]
    map_type: Option<String>,

    /// Output database (default: FILE.db).
    #[arg(short = 'o', value_name = "DBFILE")]
    output: Option<PathBuf>,

    /// Database type, accepted for compatibility: the format is always ours.
    #[arg(short = 'd', value_name = "DBTYPE", value_parser = ["hash", "btree"], hide = true)]
    db_type: Option<String>,

    /// The source file (`-` for standard input), or the database with -U.
    file: PathBuf,
}

/// Run makemap with `args` (the program name first).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("makemap: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.dump {
        let mut out = std::io::stdout().lock();
        dump(&args.file, &mut out).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let map_type = match args.map_type.as_deref() {
        Some("aliases") => MapType::Aliases,
        Some("set") => MapType::Set,
        _ => MapType::Plain,
    };
    let report = build(&args.file, args.output.as_deref(), map_type).map_err(|e| e.to_string())?;
    if report.entries == 0 {
        eprintln!(
            "makemap: warning: empty map created: {}",
            report.output.display()
        );
    }
    Ok(())
}
