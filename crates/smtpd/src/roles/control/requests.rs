//! One `smtpctl` client: its requests, each forwarded to the process it
//! concerns and answered in order.
//!
//! A client is served as an ipc channel (the same frames, versioned, with
//! descriptors) typed `Request` in and `Response` out. Who the client is
//! comes from the socket (`SO_PEERCRED`): administrative requests need
//! root or the server's own user; enqueueing mail is open to anyone who
//! can connect, as in OpenSMTPD.

use smtpd_control_proto::{
    QueueEntry, Request, Response, Subsystem as CtlSubsystem, Target as CtlTarget,
};
use smtpd_ipc::{channel, ChannelError, Inbound, Role, Sender};
use smtpd_types::{EvpId, MsgId};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{now, Shared};
use crate::msg::to_scheduler::Target;
use crate::msg::{ReqId, Subsystem, ToControl, ToMda, ToMta, ToQueue, ToScheduler, ToSmtp};

/// How long a request waits for the process it was forwarded to. The
/// queue answers from its store thread, which may be busy syncing a batch
/// of commits, and a listing of a large queue reads many files.
const IPC_TIMEOUT: Duration = Duration::from_secs(60);

/// Serve one client until it disconnects.
pub async fn serve_client(sh: Arc<Shared>, stream: UnixStream) {
    let uid = match stream.peer_cred() {
        Ok(c) => c.uid(),
        Err(e) => {
            warn!("control: client credentials: {e}");
            return;
        }
    };
    let fd = match stream.into_std() {
        Ok(s) => OwnedFd::from(s),
        Err(e) => {
            warn!("control: client socket: {e}");
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Inbound<Request>>();
    // A client is not a role; the channel names its peer "control" (the
    // other end of the control socket) in its errors.
    let out: Sender<Response> =
        match channel::attach::<Request, Response>(Role::Control, Role::Control, fd, tx) {
            Ok(s) => s,
            Err(e) => {
                warn!("control: client socket: {e}");
                return;
            }
        };
    sh.counters().add("control.session", 1);
    while let Some(ev) = rx.recv().await {
        match ev {
            Inbound::Msg { msg, .. } => {
                if !answer(&sh, uid, msg, &out).await {
                    break;
                }
            }
            Inbound::Closed { error, .. } => {
                if let Some(e) = error {
                    debug!("control: client (uid {uid}): {e}");
                }
                break;
            }
        }
    }
    sh.counters().add("control.session", -1);
}

/// Answer one request; false when the client is gone.
async fn answer(sh: &Shared, uid: u32, req: Request, out: &Sender<Response>) -> bool {
    debug!("control: uid {uid}: {}", req.name());
    if req.needs_admin() && uid != 0 && uid != sh.admin_uid {
        info!("control: uid {uid} may not {}", req.name());
        return reply(out, Response::Failed("permission denied".into()));
    }
    let none = Vec::new;
    let (resp, fds) = match req {
        // Pages go out as they come; the last response ends the listing.
        Request::ShowQueue { msgid } => match show_queue(sh, msgid, out).await {
            Some(last) => (last, none()),
            None => return false,
        },
        Request::ShowMessage(msgid) => show_message(sh, msgid).await,
        Request::OpenSession => open_session(sh).await,
        Request::ShowEnvelope(evpid) => (show_envelope(sh, evpid).await, none()),
        Request::ShowStats => (
            Response::Stats {
                counters: sh.counters().list(),
                uptime: now().saturating_sub(sh.started),
            },
            none(),
        ),
        Request::ShowStatus => (Response::Status(*sh.status()), none()),
        Request::Digest => (Response::Digest(sh.counters().digest()), none()),
        Request::Pause(s) => (set_paused(sh, s, true), none()),
        Request::Resume(s) => (set_paused(sh, s, false), none()),
        Request::PauseEnvelopes(t) => {
            let order = |req| ToScheduler::PauseEnvelopes {
                req,
                target: target(t),
            };
            (count(sh, order).await, none())
        }
        Request::ResumeEnvelopes(t) => {
            let order = |req| ToScheduler::ResumeEnvelopes {
                req,
                target: target(t),
            };
            (count(sh, order).await, none())
        }
        Request::Schedule(t) => {
            let order = |req| ToScheduler::Schedule {
                req,
                target: target(t),
            };
            (count(sh, order).await, none())
        }
        Request::Remove(t) => {
            let order = |req| ToScheduler::Remove {
                req,
                target: target(t),
            };
            (count(sh, order).await, none())
        }
        Request::Log { verbose } => (set_verbose(sh, verbose), none()),
        Request::UpdateTable(name) => (update_table(sh, name).await, none()),
        Request::ShowMta(view) => (show_mta(sh, view).await, none()),
        Request::Trace { subsystem, on } => (trace(sh, &subsystem, on), none()),
    };
    reply_fds(out, resp, fds)
}

fn reply(out: &Sender<Response>, resp: Response) -> bool {
    reply_fds(out, resp, Vec::new())
}

fn reply_fds(out: &Sender<Response>, resp: Response, fds: Vec<OwnedFd>) -> bool {
    out.send_with_fds(resp, fds).is_ok()
}

fn target(t: CtlTarget) -> Target {
    match t {
        CtlTarget::Envelope(e) => Target::Envelope(e),
        CtlTarget::Message(m) => Target::Message(m),
        CtlTarget::All => Target::All,
    }
}

/// Forward a request that names its reply with `req`, and wait for the
/// reply.
async fn ask(
    sh: &Shared,
    send: impl FnOnce(ReqId) -> Result<(), ChannelError>,
) -> Result<(ToControl, Vec<OwnedFd>), String> {
    let (req, rx) = sh.pending.register();
    if let Err(e) = send(req) {
        sh.pending.cancel(req);
        return Err(e.to_string());
    }
    match tokio::time::timeout(IPC_TIMEOUT, rx).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(_)) => Err("the server is stopping".into()),
        Err(_) => {
            sh.pending.cancel(req);
            Err("no answer in time".into())
        }
    }
}

/// A scheduler order answered by a count.
async fn count(sh: &Shared, order: impl FnOnce(ReqId) -> ToScheduler) -> Response {
    let scheduler = sh.peers.scheduler();
    match ask(sh, |req| scheduler.send(order(req))).await {
        Ok((ToControl::Count { n, .. }, _)) => Response::Count(n),
        Ok((other, _)) => Response::Failed(format!("unexpected answer {}", msg_name(&other))),
        Err(e) => Response::Failed(format!("scheduler: {e}")),
    }
}

fn msg_name(m: &ToControl) -> &'static str {
    smtpd_ipc::Message::name(m)
}

/// `show queue`: page by page, the scheduler's states joined with the
/// queue's envelopes, sent as they come. Returns the response that ends
/// the listing (`End`, or why it failed), or `None` when the client is
/// gone.
async fn show_queue(sh: &Shared, msgid: Option<MsgId>, out: &Sender<Response>) -> Option<Response> {
    let scheduler = sh.peers.scheduler();
    let queue = sh.peers.queue();
    let mut after: Option<EvpId> = None;
    loop {
        let states = match ask(sh, |req| {
            scheduler.send(ToScheduler::ListEnvelopes { req, msgid, after })
        })
        .await
        {
            Ok((ToControl::EnvelopeStates { states, .. }, _)) => states,
            Ok((other, _)) => {
                let why = format!("unexpected answer {}", msg_name(&other));
                return Some(Response::Failed(why));
            }
            Err(e) => return Some(Response::Failed(format!("scheduler: {e}"))),
        };
        let Some(last) = states.last().map(|s| s.evpid) else {
            return Some(Response::End);
        };
        after = Some(last);
        let evpids = states.iter().map(|s| s.evpid).collect();
        let envelopes =
            match ask(sh, |req| queue.send(ToQueue::ListEnvelopes { req, evpids })).await {
                Ok((ToControl::Envelopes { envelopes, .. }, _)) => envelopes,
                Ok((other, _)) => {
                    let why = format!("unexpected answer {}", msg_name(&other));
                    return Some(Response::Failed(why));
                }
                Err(e) => return Some(Response::Failed(format!("queue: {e}"))),
            };
        let mut by_id: HashMap<EvpId, _> = envelopes.into_iter().map(|e| (e.id, e)).collect();
        let entries: Vec<QueueEntry> = states
            .iter()
            .filter_map(|s| {
                let env = by_id.remove(&s.evpid)?;
                Some(QueueEntry::new(&env, s.run, s.suspended, s.held))
            })
            .collect();
        if !entries.is_empty() && !reply(out, Response::QueuePage(entries)) {
            return None;
        }
    }
}

async fn show_envelope(sh: &Shared, evpid: EvpId) -> Response {
    let queue = sh.peers.queue();
    match ask(sh, |req| queue.send(ToQueue::ShowEnvelope { req, evpid })).await {
        Ok((ToControl::EnvelopeText { result, .. }, _)) => match result {
            Ok(text) => Response::EnvelopeText(text),
            Err(e) => Response::Failed(e),
        },
        Ok((other, _)) => Response::Failed(format!("unexpected answer {}", msg_name(&other))),
        Err(e) => Response::Failed(format!("queue: {e}")),
    }
}

async fn show_message(sh: &Shared, msgid: MsgId) -> (Response, Vec<OwnedFd>) {
    let queue = sh.peers.queue();
    match ask(sh, |req| queue.send(ToQueue::ShowMessage { req, msgid })).await {
        Ok((ToControl::MessageFile { result, .. }, fds)) => match (result, fds.len()) {
            (Ok(()), 1) => (Response::Message, fds),
            (Ok(()), _) => (Response::Failed("no message file came".into()), Vec::new()),
            (Err(e), _) => (Response::Failed(e), Vec::new()),
        },
        Ok((other, _)) => (
            Response::Failed(format!("unexpected answer {}", msg_name(&other))),
            Vec::new(),
        ),
        Err(e) => (Response::Failed(format!("queue: {e}")), Vec::new()),
    }
}

/// `sendmail`: a local SMTP session from smtp, handed to the client.
async fn open_session(sh: &Shared) -> (Response, Vec<OwnedFd>) {
    let smtp = sh.peers.smtp();
    match ask(sh, |req| smtp.send(ToSmtp::OpenSession { req })).await {
        Ok((ToControl::SessionOpened { result, .. }, fds)) => match (result, fds.len()) {
            (Ok(()), 1) => (Response::Session, fds),
            (Ok(()), _) => (Response::Failed("no session came".into()), Vec::new()),
            (Err(e), _) => (Response::Failed(e), Vec::new()),
        },
        Ok((other, _)) => (
            Response::Failed(format!("unexpected answer {}", msg_name(&other))),
            Vec::new(),
        ),
        Err(e) => (Response::Failed(format!("smtp: {e}")), Vec::new()),
    }
}

/// `show hosts|relays|routes`: the mta describes its state.
async fn show_mta(sh: &Shared, view: smtpd_control_proto::MtaView) -> Response {
    let mta = sh.peers.mta();
    match ask(sh, |req| mta.send(ToMta::Show { req, view })).await {
        Ok((ToControl::Lines { lines, .. }, _)) => Response::Lines(lines),
        Ok((other, _)) => Response::Failed(format!("unexpected answer {}", msg_name(&other))),
        Err(e) => Response::Failed(format!("mta: {e}")),
    }
}

/// `update table NAME`: lka, which holds the tables, reloads it; then
/// mfa, whose builtin filters hold their own copy.
async fn update_table(sh: &Shared, name: String) -> Response {
    info!("control: update table {}", name.escape_default());
    let lka = sh.peers.lka();
    let from_lka = ask(sh, |req| {
        lka.send(crate::msg::ToLka::UpdateTable {
            req,
            name: name.clone(),
        })
    })
    .await;
    match table_updated(from_lka, "lka") {
        Response::Ok => {}
        failed => return failed,
    }
    let mfa = sh.peers.mfa();
    let from_mfa = ask(sh, |req| {
        mfa.send(crate::msg::ToMfa::UpdateTable {
            req,
            name: name.clone(),
        })
    })
    .await;
    table_updated(from_mfa, "mfa")
}

fn table_updated(
    answer: Result<(ToControl, Vec<std::os::fd::OwnedFd>), impl std::fmt::Display>,
    who: &str,
) -> Response {
    match answer {
        Ok((ToControl::TableUpdated { result, .. }, _)) => match result {
            Ok(()) => Response::Ok,
            Err(e) => Response::Failed(e),
        },
        Ok((other, _)) => Response::Failed(format!("unexpected answer {}", msg_name(&other))),
        Err(e) => Response::Failed(format!("{who}: {e}")),
    }
}

/// `pause|resume mda|mta|smtp`. As in OpenSMTPD, pausing what is paused
/// (or resuming what runs) fails. Local and relayed deliveries are held
/// by the scheduler (nothing new is handed out) and by their agent
/// (what it already holds waits); smtp stops accepting connections.
fn set_paused(sh: &Shared, what: CtlSubsystem, pause: bool) -> Response {
    let name = what.as_str();
    {
        let mut st = sh.status();
        let flag = match what {
            CtlSubsystem::Mda => &mut st.mda_paused,
            CtlSubsystem::Mta => &mut st.mta_paused,
            CtlSubsystem::Smtp => &mut st.smtp_paused,
        };
        if *flag == pause {
            let state = if pause { "paused" } else { "running" };
            return Response::Failed(format!("{name} is already {state}"));
        }
        *flag = pause;
    }
    let sent = match what {
        CtlSubsystem::Mda => to_scheduler(sh, Subsystem::Mda, pause).and_then(|()| {
            sh.peers
                .mda()
                .send(if pause { ToMda::Pause } else { ToMda::Resume })
        }),
        CtlSubsystem::Mta => to_scheduler(sh, Subsystem::Mta, pause).and_then(|()| {
            sh.peers
                .mta()
                .send(if pause { ToMta::Pause } else { ToMta::Resume })
        }),
        CtlSubsystem::Smtp => {
            sh.peers
                .smtp()
                .send(if pause { ToSmtp::Pause } else { ToSmtp::Resume })
        }
    };
    match sent {
        Ok(()) => {
            info!(
                "control: {name} {}",
                if pause { "paused" } else { "resumed" }
            );
            Response::Ok
        }
        Err(e) => Response::Failed(e.to_string()),
    }
}

fn to_scheduler(sh: &Shared, what: Subsystem, pause: bool) -> Result<(), ChannelError> {
    sh.peers.scheduler().send(if pause {
        ToScheduler::PauseSubsystem(what)
    } else {
        ToScheduler::ResumeSubsystem(what)
    })
}

/// `log verbose|brief`: every process, this one included.
fn set_verbose(sh: &Shared, verbose: bool) -> Response {
    info!(
        "control: logging {}",
        if verbose { "verbose" } else { "brief" }
    );
    let every: Vec<Role> = std::iter::once(Role::Parent)
        .chain(Role::CHILDREN)
        .collect();
    verbose_in(sh, &every, verbose)
}

/// `trace|untrace SUBSYSTEM`: verbose logging in the processes that do
/// that part of the work (`smtpd_control_proto::TRACE_SUBSYSTEMS`).
fn trace(sh: &Shared, subsystem: &str, on: bool) -> Response {
    let Some(roles) = smtpd_control_proto::trace_roles(subsystem) else {
        return Response::Failed(format!(
            "unknown trace subsystem {}",
            subsystem.escape_default()
        ));
    };
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    info!(
        "control: {} {subsystem}: logging {} in {}",
        if on { "trace" } else { "untrace" },
        if on { "verbose" } else { "brief" },
        names.join(", ")
    );
    verbose_in(sh, roles, on)
}

/// Turn verbose logging on or off in `roles`.
fn verbose_in(sh: &Shared, roles: &[Role], verbose: bool) -> Response {
    let p = &sh.peers;
    let mut results = Vec::new();
    for role in roles {
        results.push(match role {
            Role::Control => {
                crate::logging::set_verbose(verbose);
                Ok(())
            }
            Role::Parent => p.parent().send(crate::msg::ToParent::Verbose(verbose)),
            Role::Smtp => p.smtp().send(ToSmtp::Verbose(verbose)),
            Role::Mta => p.mta().send(ToMta::Verbose(verbose)),
            Role::Mda => p.mda().send(ToMda::Verbose(verbose)),
            Role::Mfa => p.mfa().send(crate::msg::ToMfa::Verbose(verbose)),
            Role::Lka => p.lka().send(crate::msg::ToLka::Verbose(verbose)),
            Role::Queue => p.queue().send(ToQueue::Verbose(verbose)),
            Role::Scheduler => p.scheduler().send(ToScheduler::Verbose(verbose)),
        });
    }
    match results.into_iter().find_map(Result::err) {
        None => Response::Ok,
        Some(e) => Response::Failed(e.to_string()),
    }
}
