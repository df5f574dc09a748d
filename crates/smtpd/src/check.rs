//! `smtpd -n`: check a configuration and say exactly what is wrong and
//! where (FILE:LINE:COL), as OpenSMTPD does, on standard error.
//! `--syntax-only` skips what needs the system (tables, certificates,
//! interfaces); `--print` writes the configuration in today's grammar on
//! standard output.

use smtpd_config::ParseOptions;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::conf;

pub fn main(cli: &Cli) -> ExitCode {
    let macros = match cli.macros() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("smtpd: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = ParseOptions { macros };
    let parsed = match conf::config_file(cli) {
        Some(path) => smtpd_config::parse_file(&path, &opts),
        None => {
            eprintln!(
                "smtpd: no {}: checking the embedded default",
                conf::DEFAULT_CONFIG
            );
            let data = std::env::current_dir()
                .unwrap_or_default()
                .join(conf::DEFAULT_DATA_DIR);
            smtpd_config::parse_str("<embedded default>", &conf::embedded_text(&data), &opts)
        }
    };
    let mut diags = parsed.diags;
    if diags.is_empty() && !cli.syntax_only {
        diags = smtpd_config::full_check(&parsed.config, &conf::Env);
    }
    for d in &diags {
        eprintln!("{d}");
    }
    if !diags.is_empty() {
        return ExitCode::FAILURE;
    }
    if cli.print {
        print!("{}", smtpd_config::print(&parsed.config));
    }
    eprintln!("configuration OK");
    ExitCode::SUCCESS
}
