//! makemap(8): `makemap [-U] [-t aliases|set] [-o dbfile] file`.
//!
//! Builds a `db` table (see `smtpd_table::makemap`) or, with `-U`, prints
//! one back as text. Errors go to standard error as `makemap: …` with the
//! file and line of a bad entry; the exit status is 1 on any error.

use clap::Parser;
use smtpd_table::makemap::{build, dump, MapType};
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

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            let _ = e.print();
            return ExitCode::from(code);
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
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
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
