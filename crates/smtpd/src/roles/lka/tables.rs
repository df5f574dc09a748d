//! The tables the lookup agent serves from: every table the configuration
//! declares or generates, plus OpenSMTPD's builtins, opened once at start.

use anyhow::{anyhow, Result};
use smtpd_config::TableSource;
use smtpd_table::{Service, Table, TableError, TableSpec};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::msg::RuntimeConfig;

/// The open tables, by name.
pub struct Tables {
    map: HashMap<String, Arc<dyn Table>>,
    /// Tables whose contents are in the configuration (builtins, `{ … }`
    /// lists and maps): nothing to reload them from.
    inline: HashSet<String>,
}

impl Tables {
    /// Open every table of the configuration and the builtins. A declared
    /// table shadows a builtin of the same name.
    pub fn open(rt: &RuntimeConfig) -> Result<Tables> {
        let config = &rt.config;
        let delim = config.smtp.sub_addr_delim;
        let mut map: HashMap<String, Arc<dyn Table>> = HashMap::new();
        let mut inline = HashSet::new();
        for (name, spec) in builtin_specs(rt) {
            inline.insert(name.to_string());
            let t = smtpd_table::open(&spec.with_subaddr_delim(delim))
                .map_err(|e| anyhow!("builtin table {name}: {e}"))?;
            map.insert(name.to_string(), Arc::from(t));
        }
        // Table programs started by a root process run as the server's
        // user (the tables are opened before the privileges are dropped).
        let run_as = rt.privileged.then_some((rt.user.uid, rt.user.gid));
        for def in &config.tables {
            let mut spec = spec_of(&def.name, &def.source)?.with_subaddr_delim(delim);
            spec.run_as = run_as;
            let t = smtpd_table::open(&spec).map_err(|e| {
                anyhow!(
                    "{}:{}: table {}: {e}",
                    def.span.file,
                    def.span.line,
                    def.name
                )
            })?;
            map.insert(def.name.clone(), Arc::from(t));
            if matches!(def.source, TableSource::List(_) | TableSource::Map(_)) {
                inline.insert(def.name.clone());
            } else {
                inline.remove(&def.name);
            }
        }
        Ok(Tables { map, inline })
    }

    /// `smtpctl update table NAME`: reload the table from its source. A
    /// `file:` table is read again (on failure it keeps its contents);
    /// a `db:` table reopens its file; getpwnam and external tables
    /// answer live anyway. An unknown or inline table is an error that
    /// says so.
    pub fn update(&self, name: &str) -> Result<(), String> {
        let Some(table) = self.map.get(name) else {
            return Err(format!("no table named {}", name.escape_default()));
        };
        if self.inline.contains(name) {
            return Err(format!(
                "table {} is defined in the configuration: nothing to reload it from",
                name.escape_default()
            ));
        }
        table.update().map_err(|e| e.to_string())
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Table>, TableError> {
        self.map.get(name).ok_or_else(|| TableError::Backend {
            table: name.to_string(),
            reason: "no such table".to_string(),
        })
    }

    /// Set membership with the service the use site needs.
    pub fn check(&self, name: &str, service: Service, key: &str) -> Result<bool, TableError> {
        self.get(name)?.check(service, key)
    }
}

/// The table spec for a declared or generated table.
pub fn spec_of(name: &str, source: &TableSource) -> Result<TableSpec> {
    Ok(match source {
        TableSource::List(items) => TableSpec::inline_list(name, items.clone()),
        TableSource::Map(pairs) => TableSpec::inline_map(name, pairs.clone()),
        TableSource::File { path } => TableSpec::file(name, path),
        TableSource::Db { path } => TableSpec::db(name, path),
        TableSource::Getpwnam => TableSpec::getpwnam(name),
        TableSource::External { backend, config } => TableSpec {
            name: name.to_string(),
            backend: backend.clone(),
            path: config.as_ref().map(Into::into),
            inline: None,
            subaddr_delim: '+',
            run_as: None,
        },
    })
}

/// OpenSMTPD's builtin tables.
fn builtin_specs(rt: &RuntimeConfig) -> Vec<(&'static str, TableSpec)> {
    let mut localhost: Vec<String> = rt.local_addrs.iter().map(|a| a.to_string()).collect();
    localhost.push("local".to_string());
    let anyhost = vec!["0.0.0.0/0".into(), "::/0".into(), "local".into()];
    let mut localnames = rt.localnames.clone();
    localnames.retain(|n| !n.is_empty());
    let short = rt.hostname.split('.').next().unwrap_or("").to_string();
    let mut anydest = vec!["*".to_string()];
    if !short.is_empty() {
        anydest.push(short);
    }
    vec![
        ("localhost", TableSpec::inline_list("localhost", localhost)),
        ("anyhost", TableSpec::inline_list("anyhost", anyhost)),
        (
            "localnames",
            TableSpec::inline_list("localnames", localnames),
        ),
        (
            "anydestination",
            TableSpec::inline_list("anydestination", anydest),
        ),
        ("getpwnam", TableSpec::getpwnam("getpwnam")),
    ]
}
