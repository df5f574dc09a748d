//! The mail delivery agent (the seed's §3.2.5 and §4.3): takes envelopes
//! from the queue, finds the user through lka, has the parent start a
//! delivery worker as that user, feeds it the delivery, and reports each
//! outcome to the queue. It limits deliveries in total and per user
//! (`mda limit max-session`, `max-session-per-user`). Runs unprivileged,
//! chrooted into the empty directory.

mod job;
mod workers;

use anyhow::Result;
use smtpd_ipc::Inbound;
use smtpd_types::{DeliveryOutcome, EnhancedStatus, Envelope, EvpId};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::{HasShutdown, ReqId, RuntimeConfig, ToLka, ToMda, ToParent, ToQueue, UserInfo};
use crate::peers::Peers;
use workers::{Finished, Pool, WorkerKey};

/// How long an idle worker is kept for the next delivery to its user.
const WORKER_IDLE: Duration = Duration::from_secs(5);

pub fn main(setup: ChildSetup) -> Result<()> {
    // The mbox directory's group is read before the chroot hides it.
    let mbox_group = mbox_group(&setup.rt);
    setup.drop_privileges()?;
    setup.run::<ToMda, _, _>(move |ctx| run(ctx, mbox_group))
}

/// In a group-writable mail spool (Debian: root:mail 2775) mboxes are
/// created by a worker that also holds the spool's group.
fn mbox_group(rt: &RuntimeConfig) -> Option<u32> {
    if !rt.privileged {
        return None;
    }
    let md = std::fs::metadata(&rt.paths.mailbox_dir).ok()?;
    (md.mode() & 0o020 != 0 && md.gid() != 0).then_some(md.gid())
}

/// One delivery in progress.
struct Delivery {
    env: Box<Envelope>,
    msg: Option<File>,
    user: Option<UserInfo>,
    started: Instant,
    method: &'static str,
}

struct Mda {
    rt: Arc<RuntimeConfig>,
    peers: Peers,
    pool: Pool,
    mbox_group: Option<u32>,
    next: u64,
    /// Deliveries by job id.
    jobs: HashMap<u64, Delivery>,
    /// User lookups in flight: request → job and cache key.
    user_reqs: HashMap<ReqId, (u64, (Option<String>, String))>,
    /// Worker starts in flight: request → user.
    starts: HashMap<ReqId, WorkerKey>,
    /// Users, by (userbase, name).
    users: HashMap<(Option<String>, String), (UserInfo, Instant)>,
    done_tx: mpsc::UnboundedSender<Finished>,
    paused: bool,
    /// Deliveries held while paused.
    held: Vec<(Box<Envelope>, File)>,
}

async fn run(mut ctx: Ctx<ToMda>, mbox_group: Option<u32>) -> Result<()> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
    let paused = ctx.rt.paused.contains(&crate::msg::Subsystem::Mda);
    let mut mda = Mda {
        rt: ctx.rt.clone(),
        peers: ctx.peers.clone(),
        pool: Pool::default(),
        mbox_group,
        next: 0,
        jobs: HashMap::new(),
        user_reqs: HashMap::new(),
        starts: HashMap::new(),
        users: HashMap::new(),
        done_tx,
        paused,
        held: Vec::new(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = ctx.inbox.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                match ev {
                    Inbound::Closed { from, error } => {
                        if on_closed(ctx.role, from, error)? == Flow::Stop {
                            return Ok(());
                        }
                    }
                    Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
                    Inbound::Msg { msg, mut fds, .. } => mda.handle(msg, fds.pop()),
                }
            }
            Some(f) = done_rx.recv() => mda.finished(f),
            _ = tick.tick() => {
                mda.pool.reap_idle(WORKER_IDLE);
                mda.grow_waiting();
            }
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Mda {
    fn handle(&mut self, msg: ToMda, fd: Option<std::os::fd::OwnedFd>) {
        if matches!(msg, ToMda::Deliver { .. }) {
            // Uncounted in `report`: every envelope gets one outcome.
            crate::stats::update(&self.peers, "mda.envelope", 1);
        }
        match msg {
            ToMda::Deliver { envelope } => match fd {
                Some(fd) if self.paused => self.held.push((envelope, File::from(fd))),
                Some(fd) => self.deliver(envelope, File::from(fd)),
                None => self.report(
                    envelope.id,
                    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), "message file missing"),
                ),
            },
            ToMda::UserInfo { req, result } => self.user_found(req, result),
            ToMda::Started { req, result } => self.started(req, result, fd),
            ToMda::Pause => self.paused = true,
            ToMda::Resume => {
                self.paused = false;
                for (env, file) in std::mem::take(&mut self.held) {
                    self.deliver(env, file);
                }
            }
            // Applied on arrival (`logging::apply_verbose`).
            ToMda::Verbose(_) => {}
            ToMda::Shutdown => {}
        }
    }

    /// Start a delivery: first find the user it runs as.
    fn deliver(&mut self, env: Box<Envelope>, msg: File) {
        let config = &self.rt.config;
        let Some(action) = config.action(&env.dispatcher) else {
            let o = DeliveryOutcome::tempfail(
                EnhancedStatus::new(4, 3, 5),
                format!("no action {} in the configuration", env.dispatcher),
            );
            return self.report(env.id, o);
        };
        let local = match &action.method {
            smtpd_config::Method::Local(l) => l.clone(),
            smtpd_config::Method::Relay(_) => {
                let o = DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 3, 5),
                    "relay action on a local envelope",
                );
                return self.report(env.id, o);
            }
        };
        // The user: the action's single delivery user, else the one the
        // expansion chose. The server's own account (alias files and
        // commands) is a system user whatever the userbase.
        let name = local
            .user
            .clone()
            .or_else(|| env.mda_user.clone())
            .unwrap_or_else(|| env.dest.user.clone());
        let userbase = if name == self.rt.user.name {
            None
        } else {
            local.userbase.clone()
        };
        self.next += 1;
        let id = self.next;
        self.jobs.insert(
            id,
            Delivery {
                env,
                msg: Some(msg),
                user: None,
                started: Instant::now(),
                method: "",
            },
        );
        let key = (userbase.clone(), name.clone());
        if let Some((u, at)) = self.users.get(&key) {
            if at.elapsed() < Duration::from_secs(60) {
                let u = u.clone();
                return self.have_user(id, u);
            }
        }
        let req = self.next_req();
        self.user_reqs.insert(req, (id, key));
        if let Err(e) = self.peers.lka().send(ToLka::UserInfo {
            req,
            userbase,
            user: name,
        }) {
            self.user_reqs.remove(&req);
            self.fail_job(
                id,
                DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), format!("lka: {e}")),
            );
        }
    }

    fn next_req(&mut self) -> ReqId {
        self.next += 1;
        self.next
    }

    fn user_found(&mut self, req: ReqId, result: Result<Option<UserInfo>, String>) {
        let Some((id, key)) = self.user_reqs.remove(&req) else {
            return;
        };
        match result {
            Ok(Some(u)) => {
                self.users.insert(key, (u.clone(), Instant::now()));
                self.have_user(id, u)
            }
            Ok(None) => self.fail_job(
                id,
                DeliveryOutcome::permfail(EnhancedStatus::new(5, 1, 1), "no such user"),
            ),
            Err(e) => self.fail_job(
                id,
                DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 3, 0),
                    format!("user lookup failed: {e}"),
                ),
            ),
        }
    }

    /// The user is known: build the job and hand it to a worker.
    fn have_user(&mut self, id: u64, user: UserInfo) {
        let Some(d) = self.jobs.get_mut(&id) else {
            return;
        };
        let config = &self.rt.config;
        let Some(action) = config.action(&d.env.dispatcher) else {
            return;
        };
        let setting = job::Setting {
            config,
            mailbox_dir: &self.rt.paths.mailbox_dir,
            lhlo: &self.rt.hostname,
            privileged: self.rt.privileged,
        };
        let job = match job::build(&setting, id, &d.env, action, &user) {
            Ok(j) => j,
            Err(o) => return self.fail_job(id, o),
        };
        d.method = job::method_name(&job.method);
        d.user = Some(user.clone());
        let Some(msg) = d.msg.take() else { return };
        let group = match job.method {
            crate::msg::worker::Method::Mbox { .. } => self.mbox_group,
            _ => None,
        };
        let key: WorkerKey = (user.uid, user.gid, group);
        self.pool.submit(key, job, msg);
        self.grow(key, &user);
    }

    /// Start another worker for `key` if jobs wait and the limits allow.
    fn grow(&mut self, key: WorkerKey, user: &UserInfo) {
        let limits = &self.rt.config.mda;
        let max = limits.limits.max_session as usize;
        let per_user = limits.limits.max_session_per_user as usize;
        if self.pool.waiting(&key) == 0 || self.pool.for_user(&key) >= per_user {
            return;
        }
        // At the limit, an idle worker of another user gives way.
        if self.pool.total() >= max && !self.pool.retire_idle_other(key) {
            return;
        }
        let req = self.next_req();
        self.pool.mark_starting(key);
        self.starts.insert(req, key);
        if let Err(e) = self.peers.parent().send(ToParent::StartDelivery {
            req,
            user: user.clone(),
            mbox_group: key.2,
        }) {
            warn!("mda: asking the parent for a worker: {e}");
            self.starts.remove(&req);
            for j in self.pool.start_failed(key) {
                self.fail_job(
                    j.id,
                    DeliveryOutcome::tempfail(
                        EnhancedStatus::new(4, 3, 0),
                        "cannot start a delivery",
                    ),
                );
            }
        }
    }

    fn started(
        &mut self,
        req: ReqId,
        result: Result<(), String>,
        fd: Option<std::os::fd::OwnedFd>,
    ) {
        let Some(key) = self.starts.remove(&req) else {
            return;
        };
        match (result, fd) {
            (Ok(()), Some(sock)) => self.pool.add(key, sock, self.done_tx.clone()),
            (r, _) => {
                let why = r.err().unwrap_or_else(|| "no socket".into());
                warn!("mda: delivery worker for uid {} not started: {why}", key.0);
                for j in self.pool.start_failed(key) {
                    self.fail_job(
                        j.id,
                        DeliveryOutcome::tempfail(
                            EnhancedStatus::new(4, 3, 0),
                            format!("cannot start a delivery: {why}"),
                        ),
                    );
                }
            }
        }
    }

    fn finished(&mut self, f: Finished) {
        self.pool.finished(f.key, f.worker, f.dead);
        let outcome = f.done.outcomes.into_iter().next().unwrap_or_else(|| {
            DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), "no outcome")
        });
        self.fail_job(f.done.id, outcome);
        self.grow_waiting();
    }

    /// Start workers for users whose jobs wait, as far as the limits allow.
    fn grow_waiting(&mut self) {
        for key in self.pool.keys_waiting() {
            if let Some(u) = self
                .users
                .values()
                .find(|(u, _)| (u.uid, u.gid) == (key.0, key.1))
                .map(|(u, _)| u.clone())
            {
                self.grow(key, &u);
            }
        }
    }

    /// A job ended (or could not start): log it and tell the queue.
    fn fail_job(&mut self, id: u64, outcome: DeliveryOutcome) {
        let Some(d) = self.jobs.remove(&id) else {
            return;
        };
        log_delivery(&d, &outcome);
        self.report(d.env.id, outcome);
    }

    fn report(&self, evpid: EvpId, outcome: DeliveryOutcome) {
        crate::stats::update(&self.peers, "mda.envelope", -1);
        if let Err(e) = self.peers.queue().send(ToQueue::Outcome { evpid, outcome }) {
            warn!("mda: reporting {evpid}: {e}");
        }
    }
}

/// OpenSMTPD's delivery log line.
fn log_delivery(d: &Delivery, o: &DeliveryOutcome) {
    let env = &d.env;
    let from = env
        .sender
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let user = d.user.as_ref().map(|u| u.username.as_str()).unwrap_or("-");
    let delay = now().saturating_sub(env.ctime);
    let (result, stat) = match o {
        DeliveryOutcome::Ok => ("Ok", "Delivered".to_string()),
        DeliveryOutcome::TempFail { status, reason } => ("TempFail", format!("{status} {reason}")),
        DeliveryOutcome::PermFail { status, reason } => ("PermFail", format!("{status} {reason}")),
        DeliveryOutcome::Loop { reason } => ("Loop", reason.clone()),
    };
    info!(
        "delivery: {} for {:016x}: from=<{}>, to=<{}>, rcpt=<{}>, user={}, method={}, delay={}s, elapsed={}ms, stat={}",
        result,
        env.id.0,
        from,
        env.dest,
        env.rcpt,
        user,
        if d.method.is_empty() { "-" } else { d.method },
        delay,
        d.started.elapsed().as_millis(),
        stat
    );
}
