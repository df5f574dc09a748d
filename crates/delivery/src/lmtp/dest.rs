//! Where an LMTP server listens (`lmtp DEST`): `host:port`, `[v6]:port`,
//! or the absolute path of a Unix socket; and connecting there.

use crate::error::DeliveryError;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// An LMTP server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LmtpDest {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl LmtpDest {
    /// Parse OpenSMTPD's `lmtp` destination: a path if it starts with `/`,
    /// else `host:port` (IPv6 literals in brackets). The port is required,
    /// as in OpenSMTPD.
    pub fn parse(s: &str) -> Result<Self, DeliveryError> {
        let bad = || DeliveryError::BadDestination {
            dest: s.to_string(),
        };
        if s.starts_with('/') {
            return Ok(LmtpDest::Unix(PathBuf::from(s)));
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
            None if host.contains(':') => return Err(bad()),
            None => host,
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(LmtpDest::Tcp {
            host: host.to_string(),
            port,
        })
    }

    /// Connect, trying each address of the host in turn.
    pub(crate) fn connect(&self, timeout: Duration) -> Result<Conn, DeliveryError> {
        match self {
            LmtpDest::Unix(path) => UnixStream::connect(path)
                .map(Conn::Unix)
                .map_err(|e| DeliveryError::io(format!("connect to {}", path.display()), e)),
            LmtpDest::Tcp { host, port } => {
                let what = || format!("connect to {host}:{port}");
                let addrs = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| DeliveryError::io(what(), e))?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(s) => {
                            // Commands and message blocks are written whole;
                            // Nagle would only delay the last segment.
                            let _ = s.set_nodelay(true);
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(DeliveryError::io(what(), last))
            }
        }
    }
}

impl std::fmt::Display for LmtpDest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LmtpDest::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            LmtpDest::Tcp { host, port } => write!(f, "{host}:{port}"),
            LmtpDest::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A connection to the server, over TCP or a Unix socket.
pub(crate) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub(crate) fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        let t = Some(t);
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
            Conn::Unix(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
        }
    }

    /// A second handle on the same socket, for reading while this one writes.
    pub(crate) fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_destinations() {
        assert_eq!(
            LmtpDest::parse("127.0.0.1:24").unwrap(),
            LmtpDest::Tcp {
                host: "127.0.0.1".into(),
                port: 24
            }
        );
        assert_eq!(
            LmtpDest::parse("[::1]:2424").unwrap(),
            LmtpDest::Tcp {
                host: "::1".into(),
                port: 2424
            }
        );
        assert_eq!(
            LmtpDest::parse("/var/run/dovecot/lmtp").unwrap(),
            LmtpDest::Unix("/var/run/dovecot/lmtp".into())
        );
        assert_eq!(LmtpDest::parse("[::1]:24").unwrap().to_string(), "[::1]:24");
        for bad in [
            "localhost",
            "host:",
            ":24",
            "h:0",
            "h:99999",
            "::1:24",
            "[::1:24",
            "rel/path",
        ] {
            assert!(LmtpDest::parse(bad).is_err(), "{bad}");
        }
    }
}
