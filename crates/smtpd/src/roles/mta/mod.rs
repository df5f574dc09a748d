//! The mail transfer agent (the seed's §3.2.4 and §4.4): relays envelopes
//! to other hosts over SMTP (or LMTP) and reports one outcome per envelope
//! to the queue. Runs unprivileged, chrooted into the empty directory; DNS
//! and relay tables are asked of lka.
//!
//! Envelopes are queued on a *relay* ([`route::RouteKey`]: the action and,
//! unless it names a smarthost, the recipient domain). A relay resolves its
//! destination once ([`resolve`]: MX, addresses, credentials, source) and
//! keeps the answer while it has work or connections. Envelopes of one
//! message on one relay form a *task*, sent as one transaction (one MAIL,
//! several RCPT). Sessions ([`session`]) connect to the first host that
//! answers and take tasks one after the other: up to `session-mail-max`
//! (100) per connection, idle connections kept `session-keepalive` (10 s).
//!
//! Limits, kept simple: at most [`MAX_SESSIONS`] connections in all and
//! [`MAX_SESSIONS_PER_RELAY`] per relay; a new connection is opened only
//! while more tasks wait than connections are being opened.

mod auth;
mod lka;
mod report;
mod resolve;
mod route;
mod session;
mod show;
mod tls;
mod transaction;
mod wire;

use anyhow::{Context, Result};
use smtpd_config::Method;
use smtpd_ipc::Inbound;
use smtpd_types::{DeliveryOutcome, EnhancedStatus, Envelope};
use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::{HasShutdown, RuntimeConfig, Subsystem, ToMfa, ToMta};
use crate::peers::Peers;
use crate::pending::Pending;
use resolve::Plan;
use route::{Destination, Ours, RouteKey};
use session::{Cmd, SessionEvent};
use transaction::Task;

/// Connections open or being opened, in all.
pub const MAX_SESSIONS: usize = 100;
/// Connections per relay (a domain, or a smarthost).
pub const MAX_SESSIONS_PER_RELAY: usize = 20;
/// Recipients per transaction (RFC 5321 §4.5.3.1.8 asks servers to take
/// at least 100).
const MAX_RCPT_PER_TASK: usize = 100;

pub fn main(setup: ChildSetup) -> Result<()> {
    // The CA bundle is read before the chroot hides it.
    let tls = tls::Tls::load(&setup.rt).context("setting up TLS")?;
    setup.drop_privileges()?;
    setup.run::<ToMta, _, _>(move |ctx| run(ctx, tls))
}

/// A destination with its waiting tasks and its connections.
struct Relay {
    /// `None` while the destination is being resolved.
    plan: Option<Arc<Plan>>,
    tasks: VecDeque<Task>,
    sessions: HashSet<u64>,
    connecting: usize,
    idle: Vec<u64>,
    /// After a failed connection while others live, no new one before
    /// this (OpenSMTPD's `reconn-delay-route`), so a host that refuses
    /// extra connections is not hammered.
    hold_until: Option<Instant>,
    /// When a connection of this relay last got through (`show relays`).
    last_conn: Option<Instant>,
}

/// How long a relay waits before opening another connection after one
/// failed while its other connections live.
const RECONNECT_DELAY: Duration = Duration::from_secs(3);

struct SessionState {
    key: RouteKey,
    tx: mpsc::UnboundedSender<Cmd>,
    mails: u64,
    /// Set while the session waits for a task.
    idle_since: Option<Instant>,
    /// Whom it reached, once connected (`show hosts|routes`).
    peer: Option<session::Peer>,
    connected_at: Option<Instant>,
}

struct Mta {
    rt: Arc<RuntimeConfig>,
    peers: Peers,
    lka: lka::LkaClient,
    tls: Arc<tls::Tls>,
    ours: Arc<Ours>,
    relays: HashMap<RouteKey, Relay>,
    sessions: HashMap<u64, SessionState>,
    next_id: u64,
    paused: bool,
    resolved_tx: mpsc::UnboundedSender<(RouteKey, Result<Plan, DeliveryOutcome>)>,
    session_tx: mpsc::UnboundedSender<SessionEvent>,
}

async fn run(mut ctx: Ctx<ToMta>, tls: tls::Tls) -> Result<()> {
    let pending: Arc<Pending<ToMta>> = Pending::new();
    let (resolved_tx, mut resolved_rx) = mpsc::unbounded_channel();
    let (session_tx, mut session_rx) = mpsc::unbounded_channel();
    let rt = ctx.rt.clone();
    let mut mta = Mta {
        ours: Arc::new(Ours::new(&rt.config.listeners, &rt.local_addrs)),
        paused: rt.paused.contains(&Subsystem::Mta),
        lka: lka::LkaClient::new(ctx.peers.clone(), pending.clone()),
        peers: ctx.peers.clone(),
        tls: Arc::new(tls),
        relays: HashMap::new(),
        sessions: HashMap::new(),
        next_id: 0,
        rt,
        resolved_tx,
        session_tx,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = ctx.inbox.recv() => {
                let Some(mut ev) = ev else { return Ok(()) };
                // Take everything already queued before starting work, so
                // that the envelopes of one message join one task.
                loop {
                    match ev {
                        Inbound::Closed { from, error } => {
                            if on_closed(ctx.role, from, error)? == Flow::Stop {
                                return Ok(());
                            }
                        }
                        Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
                        Inbound::Msg { msg, fds, .. } => match msg.reply_to() {
                            Some(req) => {
                                pending.complete(req, msg, fds);
                            }
                            None => mta.handle(msg, fds),
                        },
                    }
                    match ctx.inbox.try_recv() {
                        Ok(next) => ev = next,
                        Err(_) => break,
                    }
                }
                mta.pump_all();
            }
            Some((key, result)) = resolved_rx.recv() => mta.resolved(key, result),
            Some(ev) = session_rx.recv() => mta.session_event(ev),
            _ = tick.tick() => mta.tick(),
        }
    }
}

impl Mta {
    fn handle(&mut self, msg: ToMta, mut fds: Vec<OwnedFd>) {
        match msg {
            ToMta::Relay { envelope } => {
                crate::stats::update(&self.peers, "mta.envelope", 1);
                self.enqueue(envelope, fds.pop())
            }
            ToMta::Show { req, view } => {
                let lines = show::lines(self, view);
                let sent = self
                    .peers
                    .control()
                    .send(crate::msg::ToControl::Lines { req, lines });
                if let Err(e) = sent {
                    tracing::debug!("mta: answering control: {e}");
                }
            }
            ToMta::Pause => self.paused = true,
            ToMta::Resume => self.paused = false,
            _ => {}
        }
    }

    fn fail(&self, env: &Envelope, outcome: DeliveryOutcome) {
        let stat = report::stat_of(&outcome);
        report::report(&self.peers, env, None, outcome, &stat);
    }

    /// Queue an envelope on its relay, joining the waiting task of its
    /// message when there is one.
    fn enqueue(&mut self, env: Box<Envelope>, fd: Option<OwnedFd>) {
        let config_fail =
            |why: String| DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 5), why);
        let Some(fd) = fd else {
            let o = DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), "message file missing");
            return self.fail(&env, o);
        };
        let config = self.rt.config.clone();
        let relay_opts = match config.action(&env.dispatcher).map(|a| &a.method) {
            Some(Method::Relay(r)) => r.clone(),
            Some(Method::Local(_)) => {
                return self.fail(&env, config_fail("local action on a relay envelope".into()))
            }
            None => {
                let why = format!("no action {} in the configuration", env.dispatcher);
                return self.fail(&env, config_fail(why));
            }
        };
        let (key, dest) = route::route_of(
            &env.dispatcher,
            &relay_opts,
            &env.dest.domain,
            &self.rt.hostname,
        );
        let sender =
            match route::rewrite_sender(env.sender.as_ref(), relay_opts.mail_from.as_deref()) {
                Ok(s) => s,
                Err(e) => return self.fail(&env, config_fail(e)),
            };
        let msgid = env.msgid();
        let mut fresh = false;
        let relay = self.relays.entry(key.clone()).or_insert_with(|| {
            fresh = true;
            Relay {
                plan: None,
                tasks: VecDeque::new(),
                sessions: HashSet::new(),
                connecting: 0,
                idle: Vec::new(),
                hold_until: None,
                last_conn: None,
            }
        });
        let joinable = relay.tasks.iter_mut().find(|t| {
            t.msgid == msgid && t.sender == sender && t.envelopes.len() < MAX_RCPT_PER_TASK
        });
        match joinable {
            Some(t) => t.envelopes.push(*env),
            None => relay.tasks.push_back(Task {
                msgid,
                sender,
                envelopes: vec![*env],
                file: std::fs::File::from(fd),
                stale: 0,
            }),
        }
        if fresh {
            self.start_resolving(key, dest, relay_opts);
        }
    }

    fn start_resolving(&self, key: RouteKey, dest: Destination, opts: smtpd_config::Relay) {
        let lka = self.lka.clone();
        let hostname = self.rt.hostname.clone();
        let mx_port = self.rt.mx_port;
        let tx = self.resolved_tx.clone();
        tokio::spawn(async move {
            let setting = resolve::Setting {
                relay: &opts,
                hostname: &hostname,
                mx_port,
            };
            let result = resolve::resolve(&lka, &dest, &setting).await;
            let _ = tx.send((key, result));
        });
    }

    fn resolved(&mut self, key: RouteKey, result: Result<Plan, DeliveryOutcome>) {
        match result {
            Ok(plan) => {
                if let Some(r) = self.relays.get_mut(&key) {
                    r.plan = Some(Arc::new(plan));
                }
                self.pump(&key);
            }
            Err(outcome) => self.fail_relay(&key, &outcome),
        }
    }

    /// Every waiting envelope of the relay fails with `outcome`; the relay
    /// is forgotten (its DNS answers with it) unless connections remain.
    fn fail_relay(&mut self, key: &RouteKey, outcome: &DeliveryOutcome) {
        let Some(relay) = self.relays.get_mut(key) else {
            return;
        };
        let tasks = std::mem::take(&mut relay.tasks);
        if relay.sessions.is_empty() {
            self.relays.remove(key);
        }
        for t in tasks {
            for env in &t.envelopes {
                self.fail(env, outcome.clone());
            }
        }
    }

    fn pump_all(&mut self) {
        let keys: Vec<RouteKey> = self.relays.keys().cloned().collect();
        for k in keys {
            self.pump(&k);
        }
    }

    /// Hand waiting tasks to idle sessions, and open sessions for the rest.
    fn pump(&mut self, key: &RouteKey) {
        if self.paused {
            return;
        }
        let Some(relay) = self.relays.get_mut(key) else {
            return;
        };
        let Some(plan) = relay.plan.clone() else {
            return;
        };
        while !relay.tasks.is_empty() {
            let Some(id) = relay.idle.pop() else { break };
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            let Some(task) = relay.tasks.pop_front() else {
                break;
            };
            s.idle_since = None;
            if let Err(mpsc::error::SendError(Cmd::Task(t))) = s.tx.send(Cmd::Task(task)) {
                // The session is going away; its Closed event follows.
                relay.tasks.push_front(t);
            }
        }
        if relay.hold_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        while relay.tasks.len() > relay.connecting
            && relay.sessions.len() < MAX_SESSIONS_PER_RELAY
            && self.sessions.len() < MAX_SESSIONS
        {
            self.next_id += 1;
            let id = self.next_id;
            let (tx, cmds) = mpsc::unbounded_channel();
            self.sessions.insert(
                id,
                SessionState {
                    key: key.clone(),
                    tx,
                    mails: 0,
                    idle_since: None,
                    peer: None,
                    connected_at: None,
                },
            );
            relay.sessions.insert(id);
            relay.connecting += 1;
            crate::stats::update(&self.peers, "mta.session", 1);
            tokio::spawn(session::run(session::Setup {
                id,
                plan: plan.clone(),
                tls: self.tls.clone(),
                ours: self.ours.clone(),
                events: self.session_tx.clone(),
                cmds,
            }));
        }
    }

    /// The relay action's `filter`, if it has one.
    fn out_filter(&self, key: &RouteKey) -> Option<String> {
        match self.rt.config.action(&key.dispatcher).map(|a| &a.method) {
            Some(Method::Relay(r)) => r.filter.clone(),
            _ => None,
        }
    }

    /// An smtp-out event for the filter processes of the relay action's
    /// `filter`, if it has one. The fields are built only then: relays
    /// without a filter (the common case) pay nothing per event.
    fn report_out(
        &self,
        key: &RouteKey,
        id: u64,
        event: &str,
        fields: impl FnOnce() -> Vec<String>,
    ) {
        let Some(filter) = self.out_filter(key) else {
            return;
        };
        let msg = ToMfa::ReportOut {
            filter,
            session: id,
            event: event.to_string(),
            fields: fields(),
        };
        if let Err(e) = self.peers.mfa().send(msg) {
            warn!("mta: report to mfa: {e}");
        }
    }

    /// The reports of one transaction: begin, sender, each recipient's
    /// result.
    fn report_task(&self, key: &RouteKey, id: u64, results: &[transaction::Delivered]) {
        let Some(first) = results.first() else {
            return;
        };
        if self.out_filter(key).is_none() {
            return;
        }
        let msgid = first.envelope.msgid().to_string();
        let sender = first
            .envelope
            .sender
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        self.report_out(key, id, "tx-begin", || vec![msgid.clone()]);
        self.report_out(key, id, "tx-mail", || {
            vec![msgid.clone(), "ok".to_string(), sender]
        });
        for d in results {
            let result = match d.outcome {
                DeliveryOutcome::Ok => "ok",
                DeliveryOutcome::TempFail { .. } => "tempfail",
                _ => "permfail",
            };
            self.report_out(key, id, "tx-rcpt", || {
                vec![
                    msgid.clone(),
                    result.to_string(),
                    d.envelope.dest.to_string(),
                ]
            });
        }
    }

    fn session_event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Connected { id, peer } => {
                let Some(key) = self.sessions.get(&id).map(|s| s.key.clone()) else {
                    return;
                };
                info!(
                    "session {id:x} connected to {} [{}]{}",
                    peer.host,
                    peer.addr,
                    peer.tls
                        .as_ref()
                        .map(|t| format!(" with TLS {t}"))
                        .unwrap_or_default()
                );
                self.report_out(&key, id, "link-connect", || {
                    vec![
                        peer.host.clone(),
                        "pass".to_string(),
                        peer.local.map(|a| a.to_string()).unwrap_or_default(),
                        peer.addr.to_string(),
                    ]
                });
                if let Some(t) = &peer.tls {
                    self.report_out(&key, id, "link-tls", || vec![t.clone()]);
                }
                let now = Instant::now();
                if let Some(r) = self.relays.get_mut(&key) {
                    r.connecting = r.connecting.saturating_sub(1);
                    r.last_conn = Some(now);
                }
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.peer = Some(peer);
                    s.connected_at = Some(now);
                }
                self.set_idle(id);
                self.pump(&key);
            }
            SessionEvent::ConnectFailed { id, outcome } => {
                let Some(s) = self.sessions.remove(&id) else {
                    return;
                };
                crate::stats::update(&self.peers, "mta.session", -1);
                let alone = match self.relays.get_mut(&s.key) {
                    Some(r) => {
                        r.connecting = r.connecting.saturating_sub(1);
                        r.sessions.remove(&id);
                        r.hold_until = Some(Instant::now() + RECONNECT_DELAY);
                        r.sessions.is_empty()
                    }
                    None => false,
                };
                if alone {
                    self.fail_relay(&s.key, &outcome);
                }
            }
            SessionEvent::Done {
                id,
                peer,
                results,
                alive,
            } => {
                let Some(key) = self.sessions.get(&id).map(|s| s.key.clone()) else {
                    for d in results {
                        report::report(&self.peers, &d.envelope, Some(&peer), d.outcome, &d.stat);
                    }
                    return;
                };
                self.report_task(&key, id, &results);
                for d in results {
                    report::report(&self.peers, &d.envelope, Some(&peer), d.outcome, &d.stat);
                }
                let mail_max = self.limits(&key).0;
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                s.mails += 1;
                if !alive {
                    return; // Closed follows.
                }
                if s.mails >= mail_max {
                    let _ = s.tx.send(Cmd::Quit);
                    return;
                }
                self.set_idle(id);
                self.pump(&key);
            }
            SessionEvent::Stale { id, task } => {
                // Back to the front of its relay's queue; the session is
                // closing, so pump (after Closed) opens a fresh one. The
                // relay's other idle connections most likely died the same
                // way (the peer restarted): let them go too rather than
                // hand them the next tasks.
                if let Some(key) = self.sessions.get(&id).map(|s| s.key.clone()) {
                    if let Some(r) = self.relays.get_mut(&key) {
                        r.tasks.push_front(task);
                        for other in std::mem::take(&mut r.idle) {
                            if let Some(s) = self.sessions.get_mut(&other) {
                                s.idle_since = None;
                                let _ = s.tx.send(Cmd::Quit);
                            }
                        }
                        return;
                    }
                }
                for env in &task.envelopes {
                    let why = "the connection was lost before the transaction began";
                    let o = DeliveryOutcome::tempfail(EnhancedStatus::new(4, 4, 2), why);
                    self.fail(env, o);
                }
            }
            SessionEvent::Closed { id } => {
                let Some(s) = self.sessions.remove(&id) else {
                    return;
                };
                self.report_out(&s.key, id, "link-disconnect", Vec::new);
                crate::stats::update(&self.peers, "mta.session", -1);
                if let Some(r) = self.relays.get_mut(&s.key) {
                    r.sessions.remove(&id);
                    r.idle.retain(|i| *i != id);
                    if r.tasks.is_empty() && r.sessions.is_empty() {
                        self.relays.remove(&s.key);
                    }
                }
                self.pump(&s.key);
            }
        }
    }

    fn set_idle(&mut self, id: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.idle_since = Some(Instant::now());
        if let Some(r) = self.relays.get_mut(&s.key) {
            r.idle.push(id);
        }
    }

    /// (`session-mail-max`, `session-keepalive`) for the relay's domain.
    fn limits(&self, key: &RouteKey) -> (u64, Duration) {
        let mta = &self.rt.config.mta;
        let limits = key
            .domain
            .as_ref()
            .and_then(|d| {
                mta.domain_limits
                    .iter()
                    .find(|l| l.domain.eq_ignore_ascii_case(d))
            })
            .map(|l| &l.limits)
            .unwrap_or(&mta.limits);
        (
            limits.counts.session_mail_max.max(1),
            Duration::from_secs(limits.counts.session_keepalive),
        )
    }

    /// Close connections idle longer than the keep-alive.
    fn tick(&mut self) {
        let mut quit = Vec::new();
        for (id, s) in &self.sessions {
            if let Some(since) = s.idle_since {
                if since.elapsed() >= self.limits(&s.key).1 {
                    quit.push(*id);
                }
            }
        }
        for id in quit {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            s.idle_since = None;
            let _ = s.tx.send(Cmd::Quit);
            if let Some(r) = self.relays.get_mut(&s.key) {
                r.idle.retain(|i| *i != id);
            }
        }
        if !self.paused {
            self.pump_all();
        }
    }
}
