//! The parent: the only process that stays root (the seed's §3.2.9).
//!
//! It reads and checks the configuration, binds the listening sockets,
//! starts the eight children and wires them together, then only serves the
//! privileged requests (start a delivery as a user, open a user's
//! `~/.forward`) and watches its children: a child that dies stops the
//! whole server with a non-zero status; SIGTERM/SIGINT stop it in order.

mod filters;
mod host;
mod offline;
pub use host::server_name;
mod privileged;
pub mod setup;
mod shadow;
mod spawn;
mod stop;

use anyhow::{anyhow, Context, Result};
use smtpd_ipc::{channel, Inbound, Role, Sender};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::cli::Cli;
use crate::conf::{self, Loaded};
use crate::logging;
use crate::msg::bootstrap::RuntimeConfig;
use crate::msg::{ToControl, ToLka, ToMda, ToMfa, ToMta, ToParent, ToQueue, ToScheduler, ToSmtp};

/// How long children get to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Entry point of the daemon.
pub fn main(cli: Cli) -> ExitCode {
    let loaded = match conf::load(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smtpd: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match settle(&cli, &loaded) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smtpd: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if !cli.foreground {
        // Detach before any thread exists: daemon(3) forks.
        if let Err(e) = nix::unistd::daemon(true, false) {
            eprintln!("smtpd: cannot daemonize: {e}");
            return ExitCode::FAILURE;
        }
    }
    logging::init("parent", runtime.foreground, runtime.verbose);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(runtime, loaded)) {
        Ok(code) => code,
        Err(e) => {
            error!("fatal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Decide the run-time settings the children get.
fn settle(cli: &Cli, loaded: &Loaded) -> Result<RuntimeConfig> {
    let root = nix::unistd::geteuid().is_root();
    let privileged = root && !cli.unprivileged && !loaded.embedded;
    let paths = conf::paths(cli, loaded);
    let (user, queue_user) = if privileged {
        (
            setup::account(cli.user.as_deref().unwrap_or("_smtpd"))?,
            setup::account(cli.queue_user.as_deref().unwrap_or("_smtpq"))?,
        )
    } else {
        let me = setup::invoking_account();
        (me.clone(), me)
    };
    let hostname = host::server_name();
    let local_addrs = host::local_addrs();
    let localnames = host::local_names(&hostname, &local_addrs);
    Ok(RuntimeConfig {
        config: loaded.config.clone(),
        paths,
        privileged,
        user,
        queue_user,
        foreground: cli.foreground,
        verbose: cli.verbose > 0,
        paused: cli.paused.clone(),
        hostname,
        localnames,
        local_addrs,
        resolver: cli.resolver,
        smtp_timeout: Duration::from_secs(cli.smtp_timeout),
        mx_port: cli.mx_port.unwrap_or(25),
        shadow: cli
            .shadow
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("/etc/shadow")),
    })
}

/// The typed senders to each child.
struct Children {
    smtp: Sender<ToSmtp>,
    mta: Sender<ToMta>,
    mda: Sender<ToMda>,
    mfa: Sender<ToMfa>,
    lka: Sender<ToLka>,
    queue: Sender<ToQueue>,
    scheduler: Sender<ToScheduler>,
    control: Sender<ToControl>,
}

impl Children {
    /// Stop every child, the smtp process first: it stops taking mail and
    /// its sessions finish their transactions while the queue and lka
    /// still answer; only once it is gone are the others told to stop
    /// (see `stop.rs`).
    async fn shutdown(
        &self,
        watch: &mut stop::Watch,
        inbox: &mut mpsc::UnboundedReceiver<Inbound<ToParent>>,
        privileged: &privileged::Services,
    ) {
        if watch.pid(Role::Smtp).is_some() {
            let _ = self.smtp.send(ToSmtp::Shutdown);
            watch
                .wait_for(&[Role::Smtp], stop::SMTP_STOP, inbox, privileged)
                .await;
        }
        let _ = self.mta.send(ToMta::Shutdown);
        let _ = self.mda.send(ToMda::Shutdown);
        let _ = self.mfa.send(ToMfa::Shutdown);
        let _ = self.lka.send(ToLka::Shutdown);
        let _ = self.scheduler.send(ToScheduler::Shutdown);
        let _ = self.queue.send(ToQueue::Shutdown);
        let _ = self.control.send(ToControl::Shutdown);
        watch
            .wait_for(&Role::CHILDREN, stop::OTHERS_STOP, inbox, privileged)
            .await;
    }
}

async fn run(runtime: RuntimeConfig, loaded: Loaded) -> Result<ExitCode> {
    if !runtime.privileged {
        info!(
            "running unprivileged as {} (uid {}): no chroot, no user switch{}",
            runtime.user.name,
            runtime.user.uid,
            if loaded.embedded {
                " (embedded default configuration)"
            } else {
                ""
            }
        );
    }
    setup::prepare_spool(&runtime.paths, runtime.privileged, &runtime.queue_user)?;
    if runtime.privileged {
        setup::check_empty(&runtime.paths)?;
    }
    let mut listeners = Vec::new();
    for plan in &loaded.listen {
        for addr in &plan.addrs {
            listeners.push((plan.index, *addr, setup::bind_tcp(*addr)?));
        }
    }
    let control_socket = setup::bind_control(&runtime.paths.socket, runtime.privileged)?;

    let filters = filters::start(&runtime)?;
    let mut started = Vec::new();
    for role in Role::CHILDREN {
        started.push(spawn::start(role)?);
    }
    let addrs: Vec<String> = listeners.iter().map(|(_, a, _)| a.to_string()).collect();
    spawn::handshake(
        &mut started,
        &runtime,
        spawn::Extras {
            listeners,
            control_socket: Some(control_socket),
            filters,
        },
    )?;

    // From here on every channel is async.
    let (inbox_tx, mut inbox) = mpsc::unbounded_channel::<Inbound<ToParent>>();
    let (ev_tx, events) = mpsc::unbounded_channel::<stop::Exit>();
    let mut senders: HashMap<Role, Sender<()>> = HashMap::new();
    let mut pids: HashMap<Role, u32> = HashMap::new();
    for s in started {
        let (sock, buf, fds) = s.channel.into_parts();
        let sender = channel::attach_with_leftover::<ToParent, ()>(
            Role::Parent,
            s.role,
            sock,
            buf,
            fds,
            inbox_tx.clone(),
        )?;
        senders.insert(s.role, sender);
        pids.insert(s.role, s.pid);
        let ev = ev_tx.clone();
        let (role, pid, mut child) = (s.role, s.pid, s.child);
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = ev.send(stop::Exit { role, pid, status });
        });
    }
    drop(inbox_tx);
    let get = |r: Role| -> Result<Sender<()>> {
        senders
            .get(&r)
            .cloned()
            .ok_or_else(|| anyhow!("no channel to {r}"))
    };
    let children = Children {
        smtp: get(Role::Smtp)?.cast(),
        mta: get(Role::Mta)?.cast(),
        mda: get(Role::Mda)?.cast(),
        mfa: get(Role::Mfa)?.cast(),
        lka: get(Role::Lka)?.cast(),
        queue: get(Role::Queue)?.cast(),
        scheduler: get(Role::Scheduler)?.cast(),
        control: get(Role::Control)?.cast(),
    };
    let privileged =
        privileged::Services::new(&runtime, children.mda.clone(), children.lka.clone());

    let mut sigterm = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut ready = 0usize;
    let start_deadline = tokio::time::sleep(START_TIMEOUT);
    tokio::pin!(start_deadline);
    let mut watch = stop::Watch::new(events, pids);

    // The first child to end — its exit, or its channel to us closing — is
    // the one that died: bystanders do not stop on a peer's death
    // (`child::on_closed`), they wait to be told.
    let failure: Option<String> = loop {
        tokio::select! {
            _ = sigterm.recv() => { info!("received SIGTERM, shutting down"); break None; }
            _ = sigint.recv() => { info!("received SIGINT, shutting down"); break None; }
            _ = sighup.recv() => { info!("SIGHUP ignored: restart smtpd to apply a new configuration"); }
            _ = &mut start_deadline, if ready < Role::CHILDREN.len() => {
                break Some(format!("children did not start within {}s", START_TIMEOUT.as_secs()));
            }
            Some(exit) = watch.events.recv() => break Some(watch.ended(&exit)),
            Some(ev) = inbox.recv() => match ev {
                Inbound::Msg { msg: ToParent::Ready { role }, .. } => {
                    ready += 1;
                    tracing::debug!("{role} is ready");
                    if ready == Role::CHILDREN.len() {
                        info!("smtpd ready: listening on {}", addrs.join(", "));
                        // What sendmail dropped while we were down.
                        tokio::spawn(offline::replay_all(offline::Replay {
                            spool: runtime.paths.spool.clone(),
                            socket: runtime.paths.socket.clone(),
                            privileged: runtime.privileged,
                            smtpctl: runtime.paths.smtpctl.clone(),
                        }));
                    }
                }
                Inbound::Msg { from, msg, fds } => privileged.handle(from, msg, fds),
                Inbound::Closed { from, error: None } => break Some(watch.reap(from).await),
                Inbound::Closed { from, error: Some(smtpd_ipc::ChannelError::Io(e)) }
                    if crate::child::peer_vanished(&e) => break Some(watch.reap(from).await),
                Inbound::Closed { from, error: Some(e) } => {
                    break Some(format!("channel parent <-> {from} failed: {e}"));
                }
            },
        }
    };

    if let Some(why) = &failure {
        error!("{why}: stopping the server");
    }
    children.shutdown(&mut watch, &mut inbox, &privileged).await;
    let _ = std::fs::remove_file(&runtime.paths.socket);
    Ok(match failure {
        None => {
            info!("smtpd exiting");
            ExitCode::SUCCESS
        }
        Some(_) => ExitCode::FAILURE,
    })
}
