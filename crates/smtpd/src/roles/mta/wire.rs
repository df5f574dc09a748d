//! One outbound connection's bytes: commands out (always CRLF-terminated,
//! built by the proto crate), replies in (parsed by [`ReplyParser`]), every
//! step under a deadline, over plain TCP or TLS.

use smtpd_proto::{Command, EncodeError, Reply, ReplyError, ReplyParser};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Why a connection became unusable.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timeout {0}")]
    Timeout(&'static str),
    #[error("connection closed by the peer")]
    Closed,
    #[error("bad reply: {0}")]
    Reply(#[from] ReplyError),
    #[error("cannot encode command: {0}")]
    Encode(#[from] EncodeError),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("data received before the TLS handshake (injected in clear)")]
    Injected,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

pub struct Wire {
    stream: Stream,
    parser: ReplyParser,
    /// Bytes read but not yet taken by the parser.
    unfed: Vec<u8>,
}

async fn within<T>(
    limit: Duration,
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, WireError>>,
) -> Result<T, WireError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| WireError::Timeout(what))?
}

impl Wire {
    pub fn new(tcp: TcpStream) -> Wire {
        Wire {
            stream: Stream::Plain(tcp),
            parser: ReplyParser::new(),
            unfed: Vec::new(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The TLS version and cipher, for logs.
    pub fn tls_info(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls(s) => {
                let (_, c) = s.get_ref();
                Some(format!(
                    "{:?}:{:?}",
                    c.protocol_version()?,
                    c.negotiated_cipher_suite()?.suite()
                ))
            }
            Stream::Plain(_) => None,
        }
    }

    async fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    /// The next reply, waiting at most `limit`.
    pub async fn reply(&mut self, limit: Duration, what: &'static str) -> Result<Reply, WireError> {
        within(limit, what, self.next_reply()).await
    }

    async fn next_reply(&mut self) -> Result<Reply, WireError> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(r) = self.parser.next_reply() {
                return Ok(r?);
            }
            if !self.unfed.is_empty() {
                let n = self.parser.feed(&self.unfed);
                self.unfed.drain(..n);
                if n > 0 {
                    continue;
                }
                // The parser is full without a complete reply: it reports
                // an over-long line at its next call, so this is a
                // reply too large to hold.
                return Err(WireError::Reply(ReplyError::LineTooLong));
            }
            let n = self.read_some(&mut buf).await?;
            if n == 0 {
                return Err(WireError::Closed);
            }
            self.unfed.extend_from_slice(&buf[..n]);
        }
    }

    /// Write `bytes` (flushed), waiting at most `limit`.
    pub async fn send(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        what: &'static str,
    ) -> Result<(), WireError> {
        let stream = &mut self.stream;
        within(limit, what, async move {
            match stream {
                Stream::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await?;
                }
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Send a command and read its reply.
    pub async fn command(
        &mut self,
        cmd: &Command,
        limit: Duration,
        what: &'static str,
    ) -> Result<Reply, WireError> {
        let line = cmd.to_wire()?;
        self.send(&line, limit, what).await?;
        self.reply(limit, what).await
    }

    /// After `220` to STARTTLS (or at once, for SMTPS): the handshake.
    /// Anything the peer sent beyond the reply was sent in clear and would
    /// be read as if protected: refused.
    pub async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        limit: Duration,
    ) -> Result<Wire, WireError> {
        if self.parser.has_pending_input() || !self.unfed.is_empty() {
            return Err(WireError::Injected);
        }
        let Stream::Plain(tcp) = self.stream else {
            return Ok(self);
        };
        let tls = tokio::time::timeout(limit, TlsConnector::from(config).connect(name, tcp))
            .await
            .map_err(|_| WireError::Timeout("in the TLS handshake"))?
            .map_err(WireError::Tls)?;
        Ok(Wire {
            stream: Stream::Tls(Box::new(tls)),
            parser: ReplyParser::new(),
            unfed: Vec::new(),
        })
    }

    /// Close politely: QUIT, a short wait for its reply, then shutdown.
    pub async fn quit(&mut self) {
        let t = Duration::from_secs(5);
        if let Ok(line) = Command::Quit.to_wire() {
            if self.send(&line, t, "sending QUIT").await.is_ok() {
                let _ = self.reply(t, "waiting for the QUIT reply").await;
            }
        }
        let _ = tokio::time::timeout(t, async {
            match &mut self.stream {
                Stream::Plain(s) => s.shutdown().await,
                Stream::Tls(s) => s.shutdown().await,
            }
        })
        .await;
    }
}
