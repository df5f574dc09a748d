//! Loading the configuration: the file named by `-f`, else
//! `/etc/mail/smtpd.conf`, else the embedded default (development mode:
//! loopback port 2525, spool and mailboxes under `./smtpd-data`).

use anyhow::{bail, Context, Result};
use smtpd_config::{iface, Config, ListenOn, ParseOptions, Service, TableDef};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::msg::bootstrap::Paths;

pub const DEFAULT_CONFIG: &str = "/etc/mail/smtpd.conf";
/// Where the embedded default keeps its spool and mailboxes, relative to
/// the directory smtpd is started in.
pub const DEFAULT_DATA_DIR: &str = "smtpd-data";

/// The embedded default: every recipient at a local name is delivered into
/// a Maildir per local part under DATA/mail, as the invoking user (a
/// virtual table maps every address to that user, whose userbase entry
/// has DATA/mail as home). Mail for other domains is refused.
const EMBEDDED: &str = r#"# The embedded default configuration of smtpd (no /etc/mail/smtpd.conf).
listen on 127.0.0.1 port 2525
table vusers { "@" = "{USER}" }
table vbase { "{USER}" = "{UID}:{GID}:{DATA}/mail" }
action "local" maildir "{DATA}/mail/%{dest.user:lowercase}" virtual <vusers> userbase <vbase>
match from local for local action "local"
"#;

/// A loaded configuration and the addresses to listen on.
pub struct Loaded {
    pub config: Config,
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

/// Which file to read: `-f`, else the default path if it exists.
pub fn config_file(cli: &Cli) -> Option<PathBuf> {
    cli.file.clone().or_else(|| {
        let p = PathBuf::from(DEFAULT_CONFIG);
        p.exists().then_some(p)
    })
}

/// The embedded default's text, for the invoking user and `data`.
pub fn embedded_text(data: &Path) -> String {
    let me = crate::parent::setup::invoking_account();
    EMBEDDED
        .replace("{USER}", &me.name)
        .replace("{UID}", &me.uid.to_string())
        .replace("{GID}", &me.gid.to_string())
        .replace("{DATA}", &data.to_string_lossy())
}

/// Parse a configuration; every problem is printed as FILE:LINE:COL.
pub fn parse(cli: &Cli) -> Result<(Config, bool, Option<PathBuf>)> {
    let macros = cli.macros().map_err(anyhow::Error::msg)?;
    let opts = ParseOptions { macros };
    match config_file(cli) {
        Some(path) => {
            let parsed = smtpd_config::parse_file(&path, &opts);
            if !parsed.is_ok() {
                for d in &parsed.diags {
                    eprintln!("{d}");
                }
                bail!("{}: {} error(s)", path.display(), parsed.diags.len());
            }
            Ok((parsed.config, false, None))
        }
        None => {
            let data = std::env::current_dir()?.join(DEFAULT_DATA_DIR);
            let parsed =
                smtpd_config::parse_str("<embedded default>", &embedded_text(&data), &opts);
            if !parsed.is_ok() {
                for d in &parsed.diags {
                    eprintln!("{d}");
                }
                bail!("the embedded default configuration does not parse");
            }
            Ok((parsed.config, true, Some(data)))
        }
    }
}

/// Read, check and plan the configuration for running.
pub fn load(cli: &Cli) -> Result<Loaded> {
    let (config, embedded, data_dir) = parse(cli)?;
    if embedded {
        eprintln!(
            "smtpd: no {DEFAULT_CONFIG}: running the embedded default configuration \
             (127.0.0.1 port 2525, mail under {})",
            data_dir.as_deref().unwrap_or(Path::new(".")).display()
        );
    }
    let diags = smtpd_config::full_check(&config, &Env);
    if !diags.is_empty() {
        for d in &diags {
            eprintln!("{d}");
        }
        bail!("{} error(s) in the configuration", diags.len());
    }
    let mut listen = Vec::new();
    for (index, l) in config.listeners.iter().enumerate() {
        if l.on == ListenOn::Socket {
            continue;
        }
        let addrs =
            iface::resolve_listener(l).with_context(|| format!("listener {}", index + 1))?;
        listen.push(ListenPlan { index, addrs });
    }
    Ok(Loaded {
        config,
        embedded,
        data_dir,
        listen,
    })
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
        smtpctl: cli.smtpctl.clone(),
    }
}

/// What the full check needs from the daemon: opening tables the way lka
/// will.
pub struct Env;

impl smtpd_config::CheckEnv for Env {
    fn open_table(&self, table: &TableDef, services: &[Service]) -> Result<(), String> {
        let spec = crate::roles::lka::tables::spec_of(&table.name, &table.source)
            .map_err(|e| e.to_string())?;
        let t = smtpd_table::open(&spec).map_err(|e| e.to_string())?;
        for s in services {
            let svc: smtpd_table::Service = s
                .name()
                .parse()
                .map_err(|_| format!("unknown service {}", s.name()))?;
            t.validate(svc).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn server_name(&self) -> Option<String> {
        Some(crate::parent::server_name())
    }
}
