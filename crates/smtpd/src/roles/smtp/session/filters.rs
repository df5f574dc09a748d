//! The listener's filters in a session: each phase asks the mfa
//! (`ToMfa::Filter`, bounded by `IPC_TIMEOUT`) and applies its verdict
//! where OpenSMTPD does — connect before the banner, helo/ehlo, mail-from,
//! rcpt-to and data as the reply to their command, commit as the reply to
//! the end of the message. Events go to the filter processes as reports
//! (`ToMfa::Report`), and the message through their `data-line` phase
//! (`ToMfa::Data`).

use smtpd_config::FilterPhase;
use smtpd_proto::Reply;
use smtpd_types::EnhancedStatus;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use super::{r, Next, Session, RDNS_WAIT};
use crate::msg::to_smtp::FilterVerdict;
use crate::msg::{ToMfa, ToSmtp};
use crate::roles::smtp::tls::Upgrade;

/// The header a `junk` decision adds.
pub const JUNK_HEADER: &[u8] = b"X-Spam: Yes\r\n";

/// The largest message the data-line filters can be handed: it travels to
/// the mfa and back in one frame (with room for the rest of the message).
pub const MAX_FILTERED: usize = smtpd_ipc::MAX_FRAME_LEN - 64 * 1024;

/// A verdict's reply: `code` and `text`, whose leading enhanced status
/// code (if any) is taken as the reply's; otherwise one in the code's
/// class (`x.7.1`, delivery not authorized).
pub fn reply(code: u16, text: &str) -> Reply {
    let class = (code / 100) as u8;
    let (esc, rest) = match text.split_once(' ') {
        Some((first, rest)) => match EnhancedStatus::parse(first) {
            Some(e) if e.class == class => (e, rest),
            _ => (EnhancedStatus::new(class, 7, 1), text),
        },
        None => (EnhancedStatus::new(class, 7, 1), text),
    };
    let rest = if rest.is_empty() {
        "Refused by filter"
    } else {
        rest
    };
    Reply::new(code, Some(esc), rest)
}

impl<S: AsyncRead + AsyncWrite + Unpin + Upgrade> Session<S> {
    pub(super) fn filtered(&self) -> bool {
        self.conf.filter.is_some()
    }

    /// Tell the session's filter processes about an event. The fields are
    /// built only for a filtered session: unfiltered ones (the common case)
    /// pay nothing per event.
    pub(super) fn report(&self, event: &str, fields: impl FnOnce() -> Vec<String>) {
        if !self.filtered() {
            return;
        }
        let fields = fields();
        let _ = self.sh.peers.mfa().send(ToMfa::Report {
            session: Box::new(self.info.clone()),
            event: event.to_string(),
            fields,
        });
    }

    /// The chain's verdict for a phase (`Proceed` without filters). An
    /// mfa that does not answer is a temporary failure.
    pub(super) async fn filter(&mut self, phase: FilterPhase, param: &str) -> FilterVerdict {
        if !self.filtered() {
            return FilterVerdict::Proceed;
        }
        let mfa = self.sh.peers.mfa();
        let session = Box::new(self.info.clone());
        let mail_from = self
            .tx
            .as_ref()
            .and_then(|t| t.mail_from.as_ref())
            .map(|a| a.to_string());
        let param = param.to_string();
        let answer = self
            .ask(|req| {
                mfa.send(ToMfa::Filter {
                    req,
                    session,
                    phase,
                    param,
                    mail_from,
                })
            })
            .await;
        let verdict = match answer {
            Some((ToSmtp::Filtered { verdict, .. }, _)) => verdict,
            _ => FilterVerdict::Reject {
                code: 451,
                text: "4.7.0 Temporary failure: filters unavailable".into(),
            },
        };
        if verdict != FilterVerdict::Proceed {
            info!(
                "{} smtp filter-response phase={} response={verdict:?}",
                self.id(),
                phase.keyword()
            );
        }
        verdict
    }

    /// Apply a refusing verdict: queue its reply and say what the session
    /// does next; `None` when the command goes on. `junk` marks the
    /// session (before MAIL) or the transaction.
    pub(super) fn refused(&mut self, verdict: &FilterVerdict) -> Option<Next> {
        match verdict {
            FilterVerdict::Proceed | FilterVerdict::Rewrite(_) => None,
            FilterVerdict::Junk => {
                match &mut self.tx {
                    Some(tx) => tx.junk = true,
                    None => self.junk = true,
                }
                None
            }
            FilterVerdict::Reject { code, text } => {
                if *code >= 500 {
                    self.errors += 1;
                }
                self.reply(reply(*code, text));
                Some(if *code == 421 {
                    Next::Close("filter-disconnect")
                } else {
                    Next::Continue
                })
            }
            FilterVerdict::Disconnect { code, text } => {
                self.reply(reply(*code, text));
                Some(Next::Close("filter-disconnect"))
            }
        }
    }

    /// Before the banner: the filters' `link-connect` report (with the
    /// reverse DNS name, waited for a moment) and the connect phase.
    /// `Some(reason)` when the session ends here.
    pub(super) async fn connect_filter(&mut self) -> Option<&'static str> {
        if !self.filtered() {
            return None;
        }
        self.settle_rdns(RDNS_WAIT).await;
        let src = self.info.client.to_text();
        self.report("link-connect", || {
            vec![
                self.info.rdns.clone().unwrap_or_default(),
                if self.info.fcrdns { "pass" } else { "fail" }.to_string(),
                src.clone(),
                self.local.clone(),
            ]
        });
        // smtps: the handshake came first, its report comes now.
        if let Some(desc) = self.tls_desc.clone() {
            self.report("link-tls", || vec![desc]);
        }
        let verdict = self.filter(FilterPhase::Connect, &src).await;
        match self.refused(&verdict) {
            // A refused connection gets its reply instead of the banner.
            Some(_) => {
                let _ = self.flush().await;
                Some("filter-disconnect")
            }
            None => None,
        }
    }

    /// The end of a message's content: through the data-line filters
    /// (`held`), then the commit phase, then the queue. `Err` when a
    /// filter refused (its reply is queued, the transaction dropped).
    pub(super) async fn end_of_data(
        &mut self,
        size: u64,
        held: Option<Vec<u8>>,
    ) -> Result<Reply, Next> {
        if let Some(content) = held {
            if content.len() > MAX_FILTERED {
                self.abandon_tx();
                return Ok(r(
                    552,
                    (5, 3, 4),
                    format!("Message too big for the filters: limit is {MAX_FILTERED} bytes"),
                ));
            }
            match self.filter_content(content).await {
                Ok(c) => {
                    let written = self
                        .tx
                        .as_mut()
                        .is_some_and(|t| t.write_content(&c).is_ok());
                    if !written {
                        self.abandon_tx();
                        return Ok(r(452, (4, 3, 1), "Insufficient system storage"));
                    }
                }
                Err(rep) => {
                    self.abandon_tx();
                    return Ok(rep);
                }
            }
        }
        let verdict = self.filter(FilterPhase::Commit, "").await;
        if matches!(
            verdict,
            FilterVerdict::Reject { .. } | FilterVerdict::Disconnect { .. }
        ) {
            self.abandon_tx();
            if let Some(next) = self.refused(&verdict) {
                return Err(next);
            }
        }
        Ok(self.commit(size).await)
    }

    /// The message through the `data-line` filters: the content back, or
    /// the reply refusing it.
    pub(super) async fn filter_content(&mut self, content: Vec<u8>) -> Result<Vec<u8>, Reply> {
        let mfa = self.sh.peers.mfa();
        let session = Box::new(self.info.clone());
        let answer = self
            .ask(|req| {
                mfa.send(ToMfa::Data {
                    req,
                    session,
                    content,
                })
            })
            .await;
        match answer {
            Some((ToSmtp::FilteredData { result: Ok(c), .. }, _)) => Ok(c),
            Some((
                ToSmtp::FilteredData {
                    result:
                        Err(
                            FilterVerdict::Reject { code, text }
                            | FilterVerdict::Disconnect { code, text },
                        ),
                    ..
                },
                _,
            )) => Err(reply(code, &text)),
            _ => Err(reply(451, "4.7.0 Temporary failure: filters unavailable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reply;

    #[test]
    fn replies_carry_an_enhanced_code() {
        assert_eq!(reply(550, "go away").to_string(), "550 5.7.1 go away");
        assert_eq!(
            reply(550, "5.1.1 no such user").to_string(),
            "550 5.1.1 no such user"
        );
        assert_eq!(reply(421, "4.1.1 x").to_string(), "421 4.1.1 x");
        assert_eq!(reply(451, "").to_string(), "451 4.7.1 Refused by filter");
    }
}
