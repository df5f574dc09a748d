//! Printing a [`Config`] in today's grammar.
//!
//! For a configuration written in today's grammar the output parses back
//! to the same configuration. Old-grammar rules are converted to `match`
//! rules with the same meaning (see [`rules`]); old settings with no
//! equivalent today (`curve`, `dhparams`, `secure://` relays) are kept in
//! their old spelling, which this crate still reads, under a comment.
//! Printing is idempotent: `print(parse(print(c))) == print(c)`.

mod listener;
mod rules;
mod settings;
mod words;

use std::fmt::Write;

use crate::model::{
    Config, FilterCond, FilterCondition, FilterDecision, FilterKind, Operand, RunAs, TableOrigin,
    TableSource,
};
pub(crate) use words::{quote, word};

/// The configuration as smtpd.conf text.
pub fn print(cfg: &Config) -> String {
    let mut p = Printer {
        cfg,
        out: String::new(),
    };
    p.settings();
    p.tables();
    p.tls_material();
    p.filters();
    p.listeners();
    p.actions();
    p.rules();
    p.out
}

pub(crate) struct Printer<'a> {
    cfg: &'a Config,
    out: String,
}

impl Printer<'_> {
    fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    /// Blank line between sections.
    fn section(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// A table operand: inline tables inline again, others as `<name>`.
    fn table(&self, name: &str) -> String {
        match self.cfg.table(name) {
            Some(t) if t.origin == TableOrigin::Literal => match &t.source {
                TableSource::List(v) if v.len() == 1 => quote(&v[0]),
                src => inline(src),
            },
            Some(t) if t.origin == TableOrigin::Inline => inline(&t.source),
            _ => format!("<{}>", word(name)),
        }
    }

    fn operand(&self, o: &Operand) -> String {
        if o.regex {
            format!("regex {}", self.table(&o.table))
        } else {
            self.table(&o.table)
        }
    }

    /// A filter operand: inline chains inline again.
    fn filter_ref(&self, name: &str) -> String {
        match self.cfg.filter(name) {
            Some(f) if f.inline => match &f.kind {
                FilterKind::Chain { filters } => chain(filters),
                _ => word(name),
            },
            _ => word(name),
        }
    }

    fn tables(&mut self) {
        self.section();
        for t in &self.cfg.tables {
            if t.origin != TableOrigin::Declared {
                continue;
            }
            let src = match &t.source {
                TableSource::File { path } => word(&format!("file:{path}")),
                TableSource::Db { path } => word(&format!("db:{path}")),
                TableSource::Getpwnam => "getpwnam".to_string(),
                TableSource::External { backend, config } => match config {
                    Some(c) => word(&format!("{backend}:{c}")),
                    None => word(backend),
                },
                src => inline(src),
            };
            let l = format!("table {} {src}", word(&t.name));
            self.line(l);
        }
    }

    fn tls_material(&mut self) {
        self.section();
        for c in &self.cfg.cas {
            let mut l = format!("ca {}", word(&c.name));
            if let Some(f) = &c.cert {
                let _ = write!(l, " cert {}", quote(f));
            }
            self.line(l);
        }
        for p in &self.cfg.pkis {
            let name = word(&p.name);
            let empty = p.cert.is_none()
                && p.key.is_none()
                && p.dhe.is_none()
                && p.dhparams.is_none()
                && p.ca_file.is_none();
            if empty {
                self.line(format!("pki {name}"));
            }
            if let Some(f) = &p.cert {
                self.line(format!("pki {name} cert {}", quote(f)));
            }
            if let Some(f) = &p.key {
                self.line(format!("pki {name} key {}", quote(f)));
            }
            if let Some(d) = p.dhe {
                let v = match d {
                    crate::model::Dhe::None => "none",
                    crate::model::Dhe::Auto => "auto",
                    crate::model::Dhe::Legacy => "legacy",
                };
                self.line(format!("pki {name} dhe {v}"));
            }
            if let Some(f) = &p.dhparams {
                self.line("# dhparams (5.4-5.9) has no equivalent today: use dhe auto");
                self.line(format!("pki {name} dhparams {}", quote(f)));
            }
            if let Some(f) = &p.ca_file {
                self.line("# pki … ca FILE (5.4): today, ca NAME cert FILE and listen … ca NAME");
                self.line(format!("pki {name} ca {}", quote(f)));
            }
        }
    }

    fn filters(&mut self) {
        self.section();
        for p in &self.cfg.procs {
            let l = format!(
                "proc {} {}{}",
                word(&p.name),
                quote(&p.command),
                run_as(&p.run)
            );
            self.line(l);
        }
        for f in &self.cfg.filters {
            if f.inline {
                continue;
            }
            let body = match &f.kind {
                FilterKind::Proc { proc } => format!("proc {}", word(proc)),
                FilterKind::ProcExec { command, run } => {
                    format!("proc-exec {}{}", quote(command), run_as(run))
                }
                FilterKind::Chain { filters } => format!("chain {}", chain(filters)),
                FilterKind::Builtin {
                    phase,
                    conditions,
                    decision,
                } => {
                    let conds: Vec<String> = conditions
                        .iter()
                        .map(|c| self.filter_condition(c))
                        .collect();
                    format!(
                        "phase {} match {} {}",
                        phase.keyword(),
                        conds.join(" "),
                        filter_decision(decision)
                    )
                }
            };
            let l = format!("filter {} {body}", word(&f.name));
            self.line(l);
        }
    }

    fn filter_condition(&self, c: &FilterCondition) -> String {
        let neg = if c.negated { "!" } else { "" };
        let opt = |o: &Option<Operand>| match o {
            Some(o) => format!(" {}", self.operand(o)),
            None => String::new(),
        };
        let body = match &c.cond {
            FilterCond::Fcrdns => "fcrdns".to_string(),
            FilterCond::Rdns(o) => format!("rdns{}", opt(o)),
            FilterCond::Src(o) => format!("src {}", self.operand(o)),
            FilterCond::Helo(o) => format!("helo {}", self.operand(o)),
            FilterCond::Auth(o) => format!("auth{}", opt(o)),
            FilterCond::MailFrom(o) => format!("mail-from {}", self.operand(o)),
            FilterCond::RcptTo(o) => format!("rcpt-to {}", self.operand(o)),
        };
        format!("{neg}{body}")
    }
}

fn inline(src: &TableSource) -> String {
    match src {
        TableSource::List(v) => {
            let items: Vec<String> = v.iter().map(|s| quote(s)).collect();
            format!("{{ {} }}", items.join(", "))
        }
        TableSource::Map(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        _ => String::new(),
    }
}

fn chain(filters: &[String]) -> String {
    let items: Vec<String> = filters.iter().map(|f| word(f)).collect();
    format!("{{ {} }}", items.join(", "))
}

fn run_as(r: &RunAs) -> String {
    let mut s = String::new();
    for (k, v) in [
        ("user", &r.user),
        ("group", &r.group),
        ("chroot", &r.chroot),
    ] {
        if let Some(v) = v {
            let _ = write!(s, " {k} {}", word(v));
        }
    }
    s
}

fn filter_decision(d: &FilterDecision) -> String {
    match d {
        FilterDecision::Bypass => "bypass".into(),
        FilterDecision::Junk => "junk".into(),
        FilterDecision::Reject(m) => format!("reject {}", quote(m)),
        FilterDecision::Disconnect(m) => format!("disconnect {}", quote(m)),
        FilterDecision::Rewrite(m) => format!("rewrite {}", quote(m)),
        FilterDecision::Report(m) => format!("report {}", quote(m)),
    }
}
