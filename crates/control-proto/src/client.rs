//! The client side of the control socket, blocking: `smtpctl` sends one
//! request and reads its response(s), nothing runs concurrently.

use smtpd_ipc::{BlockingChannel, ChannelError, Role};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::{Request, Response};

/// Why talking to the control process failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("control socket: {0}")]
    Channel(#[from] ChannelError),
    #[error("the server answered {got} where {wanted} was expected")]
    Unexpected { got: String, wanted: &'static str },
}

impl ClientError {
    /// The server is not running (no socket, or nobody listening on it),
    /// as opposed to refusing us or misbehaving.
    pub fn server_down(&self) -> bool {
        match self {
            ClientError::Connect { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ),
            _ => false,
        }
    }
}

/// A connection to the control process.
pub struct Client {
    chan: BlockingChannel,
}

impl Client {
    /// Connect to the control socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Client {
            chan: BlockingChannel::new(OwnedFd::from(stream)),
        })
    }

    /// Send a request.
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        Ok(self.chan.send(req, &[])?)
    }

    /// Wait for the next response and the descriptors that came with it.
    pub fn recv(&mut self) -> Result<(Response, Vec<OwnedFd>), ClientError> {
        // The peer is the control process; the role only names it in
        // errors ("channel to control is closed").
        Ok(self.chan.recv(Role::Control)?)
    }

    /// Send a request and wait for its (first) response.
    pub fn request(&mut self, req: &Request) -> Result<(Response, Vec<OwnedFd>), ClientError> {
        self.send(req)?;
        self.recv()
    }
}

/// A response of the wrong kind, as an error.
pub fn unexpected(got: &Response, wanted: &'static str) -> ClientError {
    ClientError::Unexpected {
        got: format!("{got:?}").chars().take(200).collect(),
        wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_missing_socket_means_the_server_is_down() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Client::connect(&tmp.path().join("none.sock"))
            .err()
            .unwrap();
        assert!(err.server_down(), "{err}");
    }

    #[test]
    fn requests_and_responses_round_trip_over_a_socket() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ctl.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut chan = BlockingChannel::new(OwnedFd::from(s));
            let (req, _): (Request, _) = chan.recv(Role::Control).unwrap();
            assert_eq!(req, Request::ShowStatus);
            chan.send(&Response::Count(3), &[]).unwrap();
        });
        let mut c = Client::connect(&path).unwrap();
        let (resp, fds) = c.request(&Request::ShowStatus).unwrap();
        assert_eq!(resp, Response::Count(3));
        assert!(fds.is_empty());
        server.join().unwrap();
        // The server closed: the next read says so.
        assert!(c.recv().is_err());
    }
}
