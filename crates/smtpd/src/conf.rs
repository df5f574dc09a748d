//! Loading the configuration: the file named by `-f`, else
//! `/etc/mail/smtpd.conf`, else the embedded default (development mode).

use anyhow::Result;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::msg::bootstrap::Paths;

pub const DEFAULT_CONFIG: &str = "/etc/mail/smtpd.conf";
/// Where the embedded default keeps its spool and mailboxes, relative to
/// the directory smtpd is started in.
pub const DEFAULT_DATA_DIR: &str = "smtpd-data";

/// A loaded configuration and the addresses to listen on.
pub struct Loaded {
    pub config: smtpd_config::Config,
    /// The embedded default is in use (no file).
    pub embedded: bool,
    /// Where the embedded default keeps its data.
    pub data_dir: Option<PathBuf>,
    pub listen: Vec<ListenPlan>,
}

/// The socket addresses of one `listen on` statement.
pub struct ListenPlan {
    pub index: usize,
    pub addrs: Vec<SocketAddr>,
}

/// Read and check the configuration; every error is reported.
pub fn load(cli: &Cli) -> Result<Loaded> {
    let _ = cli.macros().map_err(anyhow::Error::msg)?;
    let file = cli.file.clone().or_else(|| {
        let p = PathBuf::from(DEFAULT_CONFIG);
        p.exists().then_some(p)
    });
    match file {
        Some(_path) => anyhow::bail!("configuration files need the config parser (not merged yet)"),
        None => {
            let data = std::env::current_dir()?.join(DEFAULT_DATA_DIR);
            eprintln!(
                "smtpd: no {DEFAULT_CONFIG}: running the embedded default configuration \
                 (127.0.0.1 port 2525, mail under {})",
                data.display()
            );
            Ok(Loaded {
                config: smtpd_config::Config::default(),
                embedded: true,
                data_dir: Some(data),
                listen: vec![ListenPlan {
                    index: 0,
                    addrs: vec!["127.0.0.1:2525".parse()?],
                }],
            })
        }
    }
}

/// The run-time paths: flags win; the embedded default keeps everything
/// under its data directory; otherwise OpenSMTPD's defaults.
pub fn paths(cli: &Cli, loaded: &Loaded) -> Paths {
    let base = loaded.data_dir.as_deref();
    let pick = |flag: &Option<PathBuf>, sub: &str, default: &str| -> PathBuf {
        flag.clone().unwrap_or_else(|| match base {
            Some(b) => b.join(sub),
            None => Path::new(default).to_path_buf(),
        })
    };
    Paths {
        spool: pick(&cli.spool, "spool", "/var/spool/smtpd"),
        socket: pick(&cli.socket, "smtpd.sock", "/var/run/smtpd.sock"),
        empty: cli
            .empty
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/empty")),
        mailbox_dir: pick(&cli.mailbox_dir, "mail", "/var/mail"),
    }
}
