//! The mail filter agent (the seed's §3.2.7): runs the filter chain of a
//! listener for the smtp sessions it asks about. Builtin filters are
//! checked here against the tables (opened before the chroot, as lka
//! does); filter processes, started by the parent, are spoken to with the
//! 0.7 line protocol over the descriptors the parent passed. A filter
//! process that dies stops the server, as in OpenSMTPD.

use anyhow::{bail, Context, Result};
use smtpd_config::{FilterDecision, FilterPhase};
use smtpd_ipc::Inbound;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::child::{on_closed, ChildSetup, Flow};
use crate::msg::to_smtp::FilterVerdict;
use crate::msg::{HasShutdown, RuntimeConfig, SessionInfo, ToMfa, ToSmtp};
use crate::roles::lka::tables::Tables;

pub mod builtin;
pub mod chain;
mod process;
pub mod protocol;

use chain::Leaf;
use process::FilterProc;
use protocol::Decision;

/// How long a filter process may take to answer one request (the smtp
/// session waits for the mfa at most `IPC_TIMEOUT`, longer than this).
const FILTER_WAIT: Duration = Duration::from_secs(60);

/// The largest message the mfa hands back (one frame to smtp).
const MAX_FILTERED: usize = smtpd_ipc::MAX_FRAME_LEN - 64 * 1024;

pub fn main(mut setup: ChildSetup) -> Result<()> {
    let tables = Tables::open(&setup.rt).context("opening tables")?;
    let fds = std::mem::take(&mut setup.filter_procs);
    setup.drop_privileges()?;
    setup.run::<ToMfa, _, _>(|mut ctx| async move {
        let (dead_tx, mut dead) = mpsc::unbounded_channel();
        let timeout = ctx.rt.smtp_timeout.as_secs();
        let mut procs = HashMap::new();
        for (name, stdin, stdout) in fds {
            let p = FilterProc::start(name.clone(), stdin, stdout, timeout, dead_tx.clone())
                .await
                .context("starting filters")?;
            info!(
                "mfa: filter {name} ready (filters: {:?}, reports: {:?})",
                p.reg.phases, p.reg.reports
            );
            procs.insert(name, p);
        }
        let agent = Arc::new(Agent {
            rt: ctx.rt.clone(),
            tables,
            procs,
            smtp: ctx.peers.smtp(),
            control: ctx.peers.control(),
            tokens: AtomicU64::new(1),
        });
        loop {
            let ev = tokio::select! {
                Some(name) = dead.recv() => {
                    bail!("filter {name} exited: stopping the server")
                }
                ev = ctx.inbox.recv() => ev,
            };
            let Some(ev) = ev else { break };
            match ev {
                Inbound::Closed { from, error } => {
                    if on_closed(ctx.role, from, error)? == Flow::Stop {
                        break;
                    }
                }
                Inbound::Msg { msg, .. } if msg.is_shutdown() => break,
                Inbound::Msg { msg, .. } => agent.handle(msg),
            }
        }
        Ok(())
    })
}

struct Agent {
    rt: Arc<RuntimeConfig>,
    tables: Tables,
    procs: HashMap<String, FilterProc>,
    smtp: smtpd_ipc::Sender<ToSmtp>,
    control: smtpd_ipc::Sender<crate::msg::ToControl>,
    tokens: AtomicU64,
}

/// A decision of one filter of the chain.
enum Step {
    Decided(Decision),
    /// A builtin `bypass`: the rest of the chain is skipped.
    Bypass,
}

impl Agent {
    fn handle(self: &Arc<Self>, msg: ToMfa) {
        match msg {
            ToMfa::Filter {
                req,
                session,
                phase,
                param,
                mail_from,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let verdict = me.filter(&session, phase, param, mail_from).await;
                    if let Err(e) = me.smtp.send(ToSmtp::Filtered { req, verdict }) {
                        warn!("mfa: {e}");
                    }
                });
            }
            ToMfa::Report {
                session,
                event,
                fields,
            } => self.report(&session, &event, &fields),
            ToMfa::ReportOut {
                filter,
                session,
                event,
                fields,
            } => self.report_out(&filter, session, &event, &fields),
            ToMfa::Data {
                req,
                session,
                content,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let result = me.data(&session, content).await;
                    if let Err(e) = me.smtp.send(ToSmtp::FilteredData { req, result }) {
                        warn!("mfa: {e}");
                    }
                });
            }
            ToMfa::UpdateTable { req, name } => {
                // The filters hold their own copy of the tables (opened
                // before the chroot, as lka's): read it again too.
                let result = self.tables.update(&name);
                match &result {
                    Ok(()) => info!("mfa: table {} reloaded", name.escape_default()),
                    Err(e) => warn!("mfa: update table: {e}"),
                }
                if let Err(e) = self
                    .control
                    .send(crate::msg::ToControl::TableUpdated { req, result })
                {
                    warn!("mfa: {e}");
                }
            }
            ToMfa::Verbose(_) | ToMfa::Shutdown => {}
        }
    }

    fn chain(&self, session: &SessionInfo) -> Vec<Leaf> {
        let config = &self.rt.config;
        match config
            .listeners
            .get(session.listener)
            .and_then(|l| l.filter.as_deref())
        {
            Some(name) => chain::leaves(config, name),
            None => Vec::new(),
        }
    }

    /// The filter processes of the session's chain, each once, in order.
    fn procs_of(&self, session: &SessionInfo) -> Vec<&FilterProc> {
        let mut out: Vec<&FilterProc> = Vec::new();
        for leaf in self.chain(session) {
            if let Leaf::Proc(name) = leaf {
                if let Some(p) = self.procs.get(&name) {
                    if !out.iter().any(|q| q.name == p.name) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    fn report(&self, session: &SessionInfo, event: &str, fields: &[String]) {
        let ts = protocol::timestamp();
        for p in self.procs_of(session) {
            if p.reg.wants_report(event) {
                p.send(protocol::report_line(
                    &ts, "smtp-in", event, session.id, fields,
                ));
            }
        }
    }

    fn report_out(&self, filter: &str, session: u64, event: &str, fields: &[String]) {
        let ts = protocol::timestamp();
        let mut seen: Vec<&str> = Vec::new();
        for leaf in chain::leaves(&self.rt.config, filter) {
            let Leaf::Proc(name) = leaf else { continue };
            let Some(p) = self.procs.get(&name) else {
                continue;
            };
            if seen.contains(&p.name.as_str()) || !p.reg.wants_out_report(event) {
                continue;
            }
            seen.push(&p.name);
            p.send(protocol::report_line(
                &ts, "smtp-out", event, session, fields,
            ));
        }
    }

    async fn filter(
        &self,
        session: &SessionInfo,
        phase: FilterPhase,
        mut param: String,
        mail_from: Option<String>,
    ) -> FilterVerdict {
        let mut junk = false;
        let mut rewritten = false;
        for leaf in self.chain(session) {
            let step = match leaf {
                Leaf::Builtin {
                    name,
                    phase: p,
                    conditions,
                    decision,
                } => {
                    if p != phase {
                        continue;
                    }
                    let subject = builtin::Subject {
                        session,
                        mail_from: if phase == FilterPhase::MailFrom {
                            Some(param.as_str())
                        } else {
                            mail_from.as_deref()
                        },
                        rcpt_to: (phase == FilterPhase::RcptTo).then_some(param.as_str()),
                    };
                    match builtin::matches(&self.tables, &conditions, &subject) {
                        Ok(true) => step_of(decision),
                        Ok(false) => continue,
                        Err(e) => {
                            warn!("mfa: filter {name}: {e}");
                            return tempfail();
                        }
                    }
                }
                Leaf::Proc(name) => {
                    let Some(p) = self.procs.get(&name) else {
                        continue;
                    };
                    if !p.reg.wants_phase(phase.keyword()) {
                        continue;
                    }
                    let token = self.tokens.fetch_add(1, Ordering::Relaxed);
                    let params = match phase {
                        FilterPhase::Connect => vec![
                            session.rdns.clone().unwrap_or_default(),
                            session.client.to_text(),
                        ],
                        FilterPhase::Data | FilterPhase::Commit | FilterPhase::Auth => Vec::new(),
                        _ => vec![param.clone()],
                    };
                    let line = protocol::filter_line(
                        &protocol::timestamp(),
                        phase.keyword(),
                        session.id,
                        token,
                        &params,
                    );
                    match p.request(line, (session.id, token), FILTER_WAIT).await {
                        Some(d) => Step::Decided(d),
                        None => {
                            warn!("mfa: filter {name} did not answer in time");
                            return tempfail();
                        }
                    }
                }
            };
            match step {
                Step::Bypass => break,
                Step::Decided(Decision::Proceed) => {}
                Step::Decided(Decision::Junk) => junk = true,
                Step::Decided(Decision::Rewrite(v)) => {
                    param = v;
                    rewritten = true;
                }
                Step::Decided(Decision::Report(m)) => {
                    info!("{:016x} mfa filter-report {m}", session.id)
                }
                Step::Decided(Decision::Reject(t)) => {
                    let (code, text) = reply_of(&t, 550);
                    return FilterVerdict::Reject { code, text };
                }
                Step::Decided(Decision::Disconnect(t)) => {
                    let (code, text) = reply_of(&t, 421);
                    return FilterVerdict::Disconnect { code, text };
                }
            }
        }
        if rewritten {
            FilterVerdict::Rewrite(param)
        } else if junk {
            FilterVerdict::Junk
        } else {
            FilterVerdict::Proceed
        }
    }

    /// Stream the message through every `data-line` filter of the chain,
    /// each seeing what the one before returned.
    async fn data(
        &self,
        session: &SessionInfo,
        content: Vec<u8>,
    ) -> Result<Vec<u8>, FilterVerdict> {
        let mut content = content;
        for p in self.procs_of(session) {
            if !p.reg.wants_phase("data-line") {
                continue;
            }
            let token = self.tokens.fetch_add(1, Ordering::Relaxed);
            let ts = protocol::timestamp();
            let make = |l: &[u8]| protocol::data_line(&ts, session.id, token, l);
            let lines = protocol::data_lines(&content);
            match p.data(lines, make, (session.id, token), FILTER_WAIT).await {
                Some(got) => {
                    content = protocol::content_of(&got);
                    if content.len() > MAX_FILTERED {
                        warn!("mfa: filter {} made the message too big", p.name);
                        return Err(FilterVerdict::Reject {
                            code: 552,
                            text: "5.3.4 Message too big after filtering".to_string(),
                        });
                    }
                }
                None => {
                    warn!("mfa: filter {} did not return the message in time", p.name);
                    return Err(tempfail());
                }
            }
        }
        Ok(content)
    }
}

fn step_of(d: FilterDecision) -> Step {
    Step::Decided(match d {
        FilterDecision::Bypass => return Step::Bypass,
        FilterDecision::Junk => Decision::Junk,
        FilterDecision::Reject(t) => Decision::Reject(t),
        FilterDecision::Disconnect(t) => Decision::Disconnect(t),
        FilterDecision::Rewrite(t) => Decision::Rewrite(t),
        FilterDecision::Report(t) => Decision::Report(t),
    })
}

fn tempfail() -> FilterVerdict {
    FilterVerdict::Reject {
        code: 451,
        text: "4.7.0 Temporary failure: filter unavailable".to_string(),
    }
}

/// `"550 go away"` → (550, "go away"); a text without a 4xx/5xx code
/// gets `default`.
pub fn reply_of(text: &str, default: u16) -> (u16, String) {
    let text = text.trim();
    if let Some((code, rest)) = text.split_once(' ') {
        if let Ok(c) = code.parse::<u16>() {
            if (400..600).contains(&c) {
                return (c, rest.trim().to_string());
            }
        }
    } else if let Ok(c) = text.parse::<u16>() {
        if (400..600).contains(&c) {
            return (c, String::new());
        }
    }
    (default, text.to_string())
}

#[cfg(test)]
mod tests {
    use super::reply_of;

    #[test]
    fn reply_texts() {
        assert_eq!(reply_of("550 go away", 421), (550, "go away".into()));
        assert_eq!(reply_of("go away", 421), (421, "go away".into()));
        assert_eq!(reply_of("250 fine", 550), (550, "250 fine".into()));
    }
}
