//! AUTH in a session (RFC 4954): only over TLS, at most once, outside a
//! transaction. The SASL exchange is `sasl.rs`'s; the password check is
//! lka's, which holds the tables.

use smtpd_proto::Reply;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use super::{r, Next, Session};
use crate::msg::to_smtp::{AuthResult, SenderCheck};
use crate::msg::{Secret, ToLka, ToSmtp};
use crate::roles::smtp::sasl::{self, Progress};
use crate::roles::smtp::tls::Upgrade;

impl<S: AsyncRead + AsyncWrite + Unpin + Upgrade> Session<S> {
    /// The AUTH command.
    pub(super) async fn auth(&mut self, mechanism: &str, initial: Option<&str>) -> Next {
        let refusal = if self.conf.auth.is_none() {
            Some(r(
                503,
                (5, 5, 1),
                "Authentication is not available on this listener",
            ))
        } else if !self.info.tls {
            // Never a password in clear (OpenSMTPD offers AUTH only over
            // TLS too).
            Some(r(
                538,
                (5, 7, 11),
                "Encryption required for requested authentication mechanism",
            ))
        } else if self.info.helo.is_empty() {
            Some(r(503, (5, 5, 1), "Polite people say HELO first"))
        } else if self.info.auth_user.is_some() {
            Some(r(503, (5, 5, 1), "Already authenticated"))
        } else if self.tx.is_some() {
            Some(r(
                503,
                (5, 5, 1),
                "AUTH not permitted during a mail transaction",
            ))
        } else {
            None
        };
        if let Some(rep) = refusal {
            self.errors += 1;
            self.reply(rep);
            return Next::Continue;
        }
        let progress = sasl::start(mechanism, initial);
        self.sasl_progress(progress).await
    }

    /// A line answering a 334 challenge: never parsed as a command, never
    /// logged.
    pub(super) async fn sasl_line(&mut self, step: sasl::Step, line: &[u8]) -> Next {
        self.current = Some("AUTH (response)".to_string());
        let progress = sasl::respond(step, line);
        self.sasl_progress(progress).await
    }

    async fn sasl_progress(&mut self, progress: Progress) -> Next {
        match progress {
            Progress::Challenge { step, text } => {
                self.sasl = Some(step);
                self.reply(Reply::new(334, None, text));
            }
            Progress::Refused(rep) => {
                self.errors += 1;
                self.reply(rep);
            }
            Progress::Done { user, password } => {
                let rep = self.check_password(user, password).await;
                self.reply(rep);
            }
        }
        Next::Continue
    }

    /// `senders <table>`: an authenticated user may only send as the
    /// addresses the table lists for it (checked by lka). `Some` is the
    /// refusal.
    pub(super) async fn sender_refused(
        &mut self,
        sender: Option<&smtpd_types::MailAddr>,
    ) -> Option<Reply> {
        let table = self.conf.senders.as_ref()?.table.clone();
        let user = self.info.auth_user.clone()?;
        let lka = self.sh.peers.lka();
        let sender = sender.cloned();
        let answer = self
            .ask(|req| {
                lka.send(ToLka::CheckSender {
                    req,
                    table,
                    user,
                    sender,
                })
            })
            .await;
        match answer {
            Some((
                ToSmtp::SenderChecked {
                    result: SenderCheck::Allowed,
                    ..
                },
                _,
            )) => None,
            Some((
                ToSmtp::SenderChecked {
                    result: SenderCheck::Refused,
                    ..
                },
                _,
            )) => Some(r(530, (5, 7, 0), "Sender rejected")),
            _ => Some(r(451, (4, 3, 0), "Temporary failure")),
        }
    }

    /// Ask lka; the answer is the reply.
    async fn check_password(&mut self, user: String, password: String) -> Reply {
        // No table: the system's passwords, which lka asks the parent for.
        let table = self.conf.auth.as_ref().and_then(|a| a.table.clone());
        let lka = self.sh.peers.lka();
        let u = user.clone();
        let answer = self
            .ask(|req| {
                lka.send(ToLka::Authenticate {
                    req,
                    table,
                    user: u,
                    password: Secret(password),
                })
            })
            .await;
        let result = match answer {
            Some((ToSmtp::Authenticated { result, .. }, _)) => result,
            _ => AuthResult::TempFail,
        };
        let (word, rep) = match result {
            AuthResult::Ok => ("ok", r(235, (2, 7, 0), "Authentication succeeded")),
            AuthResult::Failed => {
                // Counted, so that guessing passwords ends in the 421 of
                // too many errors.
                self.errors += 1;
                ("permfail", r(535, (5, 7, 8), "Authentication failed"))
            }
            AuthResult::TempFail => (
                "tempfail",
                r(454, (4, 7, 0), "Temporary authentication failure"),
            ),
        };
        info!(
            "{} smtp authentication user={} result={word}",
            self.id(),
            user.escape_default()
        );
        let outcome = match result {
            AuthResult::Ok => "pass",
            AuthResult::Failed => "fail",
            AuthResult::TempFail => "error",
        };
        self.report("link-auth", || vec![outcome.to_string(), user.clone()]);
        if result == AuthResult::Ok {
            self.info.auth_user = Some(user);
        }
        rep
    }
}
