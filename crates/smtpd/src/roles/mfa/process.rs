//! One filter process, as the mfa sees it: its stdin and stdout (the
//! parent started it and passed the descriptors), the handshake, a writer
//! task, and a reader task that routes each answer to the request waiting
//! for it. A filter that closes its output has died: the reader says so on
//! `dead`, and the mfa stops (the server with it), as OpenSMTPD does.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::protocol::{self, Decision, Output, Registrations};

/// How long a filter may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("filter {0}: {1}")]
    Io(String, std::io::Error),
    #[error("filter {0} closed its output during the handshake")]
    Closed(String),
    #[error("filter {0} did not finish its handshake in time")]
    Timeout(String),
    #[error("filter {0}: {1}")]
    Protocol(String, protocol::ProtoError),
}

type Key = (u64, u64);

/// A message coming back from a filter: the lines so far, and who waits
/// for all of them.
type Gathering = (Vec<Vec<u8>>, Option<oneshot::Sender<Vec<Vec<u8>>>>);

#[derive(Default)]
struct Waiting {
    results: HashMap<Key, oneshot::Sender<Decision>>,
    /// data-line answers gathered until the final `.`.
    data: HashMap<Key, Gathering>,
}

/// A running filter process after its handshake.
pub struct FilterProc {
    pub name: String,
    pub reg: Registrations,
    lines: mpsc::UnboundedSender<Vec<u8>>,
    waiting: Arc<Mutex<Waiting>>,
}

impl FilterProc {
    /// Handshake with the process on `stdin`/`stdout`, then serve it.
    /// `dead` hears the name of the filter if its output ends.
    pub async fn start(
        name: String,
        stdin: OwnedFd,
        stdout: OwnedFd,
        session_timeout: u64,
        dead: mpsc::UnboundedSender<String>,
    ) -> Result<FilterProc, ProcError> {
        let io = |e| ProcError::Io(name.clone(), e);
        let mut tx = pipe::Sender::from_owned_fd(stdin).map_err(io)?;
        let rx = pipe::Receiver::from_owned_fd(stdout).map_err(io)?;
        let mut rx = BufReader::new(rx);
        for l in protocol::config_lines(session_timeout) {
            tx.write_all(format!("{l}\n").as_bytes())
                .await
                .map_err(io)?;
        }
        let mut reg = Registrations::default();
        let handshake = async {
            loop {
                match next_line(&mut rx).await {
                    Ok(Some(line)) => {
                        if reg
                            .take(&String::from_utf8_lossy(&line))
                            .map_err(|e| ProcError::Protocol(name.clone(), e))?
                        {
                            return Ok(());
                        }
                    }
                    Ok(None) => return Err(ProcError::Closed(name.clone())),
                    Err(e) => return Err(ProcError::Io(name.clone(), e)),
                }
            }
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| ProcError::Timeout(name.clone()))??;

        let (lines, mut queued) = mpsc::unbounded_channel::<Vec<u8>>();
        let wname = name.clone();
        let wdead = dead.clone();
        tokio::spawn(async move {
            while let Some(mut l) = queued.recv().await {
                l.push(b'\n');
                if let Err(e) = tx.write_all(&l).await {
                    warn!("mfa: filter {wname}: {e}");
                    let _ = wdead.send(wname);
                    return;
                }
            }
        });
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let w = waiting.clone();
        let rname = name.clone();
        tokio::spawn(async move {
            loop {
                match next_line(&mut rx).await {
                    Ok(Some(line)) => route(&rname, &w, &line),
                    _ => {
                        let _ = dead.send(rname);
                        return;
                    }
                }
            }
        });
        Ok(FilterProc {
            name,
            reg,
            lines,
            waiting,
        })
    }

    pub fn send(&self, line: String) {
        let _ = self.lines.send(line.into_bytes());
    }

    /// Send a `filter|…` request and wait for its result; `None` if the
    /// filter does not answer in `wait`.
    pub async fn request(&self, line: String, key: Key, wait: Duration) -> Option<Decision> {
        let (tx, rx) = oneshot::channel();
        self.lock().results.insert(key, tx);
        self.send(line);
        let got = tokio::time::timeout(wait, rx)
            .await
            .ok()
            .and_then(|r| r.ok());
        self.lock().results.remove(&key);
        got
    }

    /// Stream a message through the filter's `data-line` phase and gather
    /// what it returns (up to, not including, its final `.`).
    pub async fn data(
        &self,
        lines: Vec<Vec<u8>>,
        make: impl Fn(&[u8]) -> Vec<u8>,
        key: Key,
        wait: Duration,
    ) -> Option<Vec<Vec<u8>>> {
        let (tx, rx) = oneshot::channel();
        self.lock().data.insert(key, (Vec::new(), Some(tx)));
        for l in &lines {
            let _ = self.lines.send(make(l));
        }
        let got = tokio::time::timeout(wait, rx)
            .await
            .ok()
            .and_then(|r| r.ok());
        self.lock().data.remove(&key);
        got
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One line from the filter, without its line end; `None` at its end.
async fn next_line<R: AsyncBufRead + Unpin>(rx: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if rx.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn route(name: &str, waiting: &Mutex<Waiting>, line: &[u8]) {
    let mut w = waiting.lock().unwrap_or_else(|p| p.into_inner());
    match protocol::parse_output(line) {
        Ok(Output::Result {
            session,
            token,
            decision,
        }) => match w.results.remove(&(session, token)) {
            Some(tx) => {
                let _ = tx.send(decision);
            }
            None => warn!(
                "mfa: filter {name}: result for no request: {}",
                String::from_utf8_lossy(line)
            ),
        },
        Ok(Output::DataLine {
            session,
            token,
            line: l,
        }) => match w.data.get_mut(&(session, token)) {
            Some((got, tx)) if l == b"." => {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(std::mem::take(got));
                }
            }
            Some((got, _)) => got.push(l),
            None => warn!("mfa: filter {name}: data line for no message"),
        },
        Ok(Output::Other) => {}
        Err(e) => warn!("mfa: filter {name}: {e}"),
    }
}
