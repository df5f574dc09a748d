//! The lookup agent (the seed's §3.2.6): the ruleset and recipient
//! expansion for smtp, reverse DNS, user lookups for mda, MX/address and
//! relay table lookups for mta. It opens the
//! configuration's tables at start (before dropping privileges, so that
//! tables readable only by root work), then runs as the unprivileged user
//! without chroot (it reads table files and resolv.conf).
//!
//! Requests are independent, so each runs as its own task; the only thing
//! they wait on besides DNS is the parent opening a `~/.forward`.

mod auth;
mod dns;
mod expand;
mod relay;
mod ruleset;
pub mod tables;

use anyhow::{Context, Result};
use smtpd_ipc::Inbound;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tracing::{info, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::to_smtp::AuthResult;
use crate::msg::{HasShutdown, RuntimeConfig, ToLka, ToMda, ToMta, ToParent, ToSmtp, UserInfo};
use crate::peers::Peers;
use crate::pending::Pending;

/// The most of a `~/.forward` that is read.
const MAX_FORWARD: u64 = 64 * 1024;

/// What every lookup task shares.
pub struct Lka {
    pub rt: Arc<RuntimeConfig>,
    pub tables: tables::Tables,
    peers: Peers,
    forwards: Arc<Pending<ToLka>>,
    dns: dns::Dns,
}

pub fn main(setup: ChildSetup) -> Result<()> {
    let tables = tables::Tables::open(&setup.rt).context("opening tables")?;
    setup.drop_privileges()?;
    setup.run::<ToLka, _, _>(move |ctx| run(ctx, tables))
}

async fn run(mut ctx: Ctx<ToLka>, tables: tables::Tables) -> Result<()> {
    let lka = Arc::new(Lka {
        dns: dns::Dns::new(ctx.rt.resolver)?,
        rt: ctx.rt.clone(),
        tables,
        peers: ctx.peers.clone(),
        forwards: Pending::new(),
    });
    while let Some(ev) = ctx.inbox.recv().await {
        match ev {
            Inbound::Closed { from, error } => {
                if on_closed(ctx.role, from, error)? == Flow::Stop {
                    return Ok(());
                }
            }
            Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
            Inbound::Msg { msg, fds, .. } => {
                if let Some(req) = msg.reply_to() {
                    lka.forwards.complete(req, msg, fds);
                    continue;
                }
                let lka = lka.clone();
                tokio::spawn(async move { lka.serve(msg).await });
            }
        }
    }
    Ok(())
}

impl Lka {
    async fn serve(&self, msg: ToLka) {
        let sent = match msg {
            ToLka::Expand {
                req,
                session,
                tx,
                rcpt,
                notify,
                orcpt,
            } => {
                let result = expand::expand(
                    self,
                    expand::Request {
                        session: &session,
                        tx: &tx,
                        rcpt: &rcpt,
                        notify,
                        orcpt,
                    },
                )
                .await;
                self.peers.smtp().send(ToSmtp::Expanded { req, result })
            }
            ToLka::Rdns { req, addr } => {
                let (name, forward_confirmed) = self.dns.rdns(addr).await;
                self.peers.smtp().send(ToSmtp::Rdns {
                    req,
                    name,
                    forward_confirmed,
                })
            }
            ToLka::Authenticate {
                req,
                table,
                user,
                password,
            } => {
                let result = match table {
                    None => self.system_password(user, password).await,
                    Some(table) => match auth::stored_hash(&self.tables, &table, &user) {
                        Ok(stored) => tokio::task::spawn_blocking(move || {
                            crate::passwords::check(&user, &password.0, stored.as_deref())
                        })
                        .await
                        .unwrap_or(AuthResult::TempFail),
                        Err(e) => {
                            warn!("lka: auth: table {table}: {e}");
                            AuthResult::TempFail
                        }
                    },
                };
                self.peers
                    .smtp()
                    .send(ToSmtp::Authenticated { req, result })
            }
            ToLka::CheckSender {
                req,
                table,
                user,
                sender,
            } => {
                let delim = self.rt.config.smtp.sub_addr_delim;
                let result =
                    auth::sender_allowed(&self.tables, &table, &user, sender.as_ref(), delim);
                self.peers
                    .smtp()
                    .send(ToSmtp::SenderChecked { req, result })
            }
            ToLka::UserInfo {
                req,
                userbase,
                user,
            } => {
                let result = expand::userinfo(&self.tables, userbase.as_deref(), &user)
                    .map_err(|e| e.to_string());
                self.peers.mda().send(ToMda::UserInfo { req, result })
            }
            ToLka::Mx { req, domain } => {
                let result = self.dns.mx(&domain).await;
                self.peers.mta().send(ToMta::Mx { req, result })
            }
            ToLka::Host { req, name } => {
                let result = self.dns.host(&name).await;
                self.peers.mta().send(ToMta::Host { req, result })
            }
            ToLka::RelayHost { req, table, domain } => {
                let result = relay::relay_host(&self.tables, &table, domain.as_deref());
                self.peers.mta().send(ToMta::RelayHost { req, result })
            }
            ToLka::Credentials { req, table, label } => {
                let result = relay::credentials(&self.tables, &table, &label);
                self.peers.mta().send(ToMta::Credentials { req, result })
            }
            ToLka::Source { req, table } => {
                let result = relay::source(&self.tables, &table);
                self.peers.mta().send(ToMta::Source { req, result })
            }
            ToLka::HeloName { req, table, addr } => {
                let result = relay::helo_name(&self.tables, &table, addr);
                self.peers.mta().send(ToMta::HeloName { req, result })
            }
            ToLka::UpdateTable { req, name } => {
                // A table file is small (the server read them all at
                // start): reloading in place costs what a lookup would.
                let result = self.tables.update(&name);
                match &result {
                    Ok(()) => info!("lka: table {} reloaded", name.escape_default()),
                    Err(e) => warn!("lka: update table: {e}"),
                }
                self.peers
                    .control()
                    .send(crate::msg::ToControl::TableUpdated { req, result })
            }
            // Verbose is applied on arrival (`logging::apply_verbose`).
            ToLka::Forward { .. }
            | ToLka::PasswordChecked { .. }
            | ToLka::Verbose(_)
            | ToLka::Shutdown => Ok(()),
        };
        if let Err(e) = sent {
            warn!("lka: answering: {e}");
        }
    }

    /// A system password: only the parent may read the shadow file.
    async fn system_password(&self, user: String, password: crate::msg::Secret) -> AuthResult {
        let (req, rx) = self.forwards.register();
        let sent = self.peers.parent().send(ToParent::CheckPassword {
            req,
            user,
            password,
        });
        if let Err(e) = sent {
            warn!("lka: auth: asking the parent: {e}");
            self.forwards.cancel(req);
            return AuthResult::TempFail;
        }
        match rx.await {
            Ok((ToLka::PasswordChecked { result, .. }, _)) => result,
            _ => AuthResult::TempFail,
        }
    }

    /// The user's `~/.forward`, as text; `None` when there is none.
    pub async fn open_forward(&self, user: &UserInfo) -> Result<Option<String>, ForwardError> {
        let (req, rx) = self.forwards.register();
        self.peers
            .parent()
            .send(ToParent::OpenForward {
                req,
                user: user.clone(),
            })
            .map_err(|e| ForwardError::Temporary(e.to_string()))?;
        let (reply, mut fds) = rx
            .await
            .map_err(|_| ForwardError::Temporary("the parent did not answer".into()))?;
        match reply {
            ToLka::Forward { found: true, .. } => {
                let fd: OwnedFd = fds
                    .pop()
                    .ok_or_else(|| ForwardError::Temporary("forward descriptor missing".into()))?;
                let mut text = String::new();
                std::fs::File::from(fd)
                    .take(MAX_FORWARD)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        ForwardError::Temporary(format!("reading ~{}/.forward: {e}", user.username))
                    })?;
                Ok(Some(text))
            }
            ToLka::Forward {
                error: Some(e),
                permanent: true,
                ..
            } => Err(ForwardError::Refused(e)),
            ToLka::Forward { error: Some(e), .. } => Err(ForwardError::Temporary(e)),
            _ => Ok(None),
        }
    }
}

/// Why a `~/.forward` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The parent refused the file (unsafe): a permanent failure.
    #[error("{0}")]
    Refused(String),
    /// It could not be read now: try again later.
    #[error("{0}")]
    Temporary(String),
}
