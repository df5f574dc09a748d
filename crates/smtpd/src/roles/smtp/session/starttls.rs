//! STARTTLS in a session (RFC 3207), and what the listener's TLS and AUTH
//! requirements refuse before TLS or authentication.

use smtpd_config::ListenerTls;
use smtpd_proto::Reply;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use super::{r, Next, Session};
use crate::roles::smtp::sasl;
use crate::roles::smtp::tls::{self, Upgrade};

impl<S: AsyncRead + AsyncWrite + Unpin + Upgrade> Session<S> {
    /// The STARTTLS command: 220 now, the handshake once the reply is out
    /// (`Next::StartTls`).
    pub(super) fn start_tls(&mut self) -> Next {
        if self.info.tls {
            self.errors += 1;
            self.reply(r(503, (5, 5, 1), "Channel already secured"));
            return Next::Continue;
        }
        if !matches!(self.conf.tls, ListenerTls::StartTls { .. })
            || self.sh.tls.acceptor(self.info.listener).is_none()
        {
            self.errors += 1;
            self.reply(r(502, (5, 5, 1), "TLS is not available on this listener"));
            return Next::Continue;
        }
        if self.tx.is_some() {
            self.errors += 1;
            self.reply(r(
                503,
                (5, 5, 1),
                "STARTTLS not allowed during a transaction",
            ));
            return Next::Continue;
        }
        self.reply(r(220, (2, 0, 0), "Ready to start TLS"));
        Next::StartTls
    }

    /// Send the 220, then run the handshake. Whatever the client sent
    /// after STARTTLS in clear is thrown away unread (RFC 3207 §4.2; the
    /// command injection of CVE-2011-0411): only what comes over TLS is
    /// read as commands.
    pub(super) async fn starttls(&mut self) -> Next {
        if self.flush().await.is_err() {
            return Next::Close("io-error");
        }
        self.input.clear();
        self.cmds.clear();
        let Some(acceptor) = self.sh.tls.acceptor(self.info.listener) else {
            return Next::Close("tls-error");
        };
        let Some(tcp) = self.stream.take_plain() else {
            return Next::Close("tls-error");
        };
        match tls::accept(&acceptor, tcp, self.sh.rt.smtp_timeout).await {
            Ok((stream, desc)) => {
                self.stream.put_tls(stream);
                self.secured(&desc);
                self.report("link-tls", || vec![desc]);
                Next::Continue
            }
            Err(e) => {
                info!("{} smtp error tls-handshake: {e}", self.id());
                Next::Close("tls-error")
            }
        }
    }

    /// TLS is in place: log it, and start over as RFC 3207 §4.2 says (the
    /// client must say EHLO again; nothing learnt in clear is kept).
    pub(super) fn secured(&mut self, desc: &str) {
        info!("{} smtp tls ciphers={desc}", self.id());
        self.tls_desc = Some(desc.to_string());
        self.abandon_tx();
        self.info.tls = true;
        self.info.helo.clear();
        self.esmtp = false;
        self.caps.starttls = false;
        if self.conf.auth.is_some() {
            self.caps.auth = sasl::MECHANISMS.iter().map(|m| m.to_string()).collect();
        }
    }

    /// `tls-require` refuses MAIL before STARTTLS; `auth` refuses it
    /// before AUTH (530, as OpenSMTPD answers).
    pub(super) fn not_secure_enough(&self) -> Option<Reply> {
        if matches!(self.conf.tls, ListenerTls::StartTls { required: true, .. }) && !self.info.tls {
            return Some(r(530, (5, 7, 0), "Must issue a STARTTLS command first"));
        }
        if self.conf.auth.as_ref().is_some_and(|a| a.required) && self.info.auth_user.is_none() {
            return Some(r(530, (5, 7, 0), "Authentication required"));
        }
        None
    }
}
