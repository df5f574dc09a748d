//! Typed channels between two processes.
//!
//! A socket to a peer is served by two tasks on the process's (single-
//! threaded) tokio runtime: a writer that drains a queue of encoded frames,
//! and a reader that decodes frames, checks that the peer may send what it
//! sent, and delivers each message into the role's one inbox. Several
//! parts of a role may hold clones of the [`Sender`]; frames are never
//! interleaved because only the writer task touches the socket.
//!
//! [`BlockingChannel`] is the same wire without a runtime, for the start-up
//! handshake (the parent hands a child its configuration and descriptors
//! before the child drops privileges and starts its runtime).

use crate::frame::{self, FrameError};
use crate::os;
use crate::role::Role;
use crate::Message;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

const READ_CHUNK: usize = 64 * 1024;

/// Why a channel stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    #[error("{from} may not send {msg} to {to}")]
    Forbidden {
        from: Role,
        to: Role,
        msg: &'static str,
    },
    #[error("channel to {0} is closed")]
    Closed(Role),
}

/// What a role's inbox receives from one of its channels.
#[derive(Debug)]
pub enum Inbound<M> {
    /// A message, with the descriptors that came with it.
    Msg {
        from: Role,
        msg: M,
        fds: Vec<OwnedFd>,
    },
    /// The channel to `from` ended: cleanly (`error: None`, the peer closed
    /// it) or because of an error. For the server's processes either is
    /// fatal: a peer that goes away means the server is stopping.
    Closed {
        from: Role,
        error: Option<ChannelError>,
    },
}

type Outgoing = (Vec<u8>, Vec<OwnedFd>);

/// The sending half of a channel to `peer`, carrying messages of type `M`
/// (the peer's inbox type). Cheap to clone.
pub struct Sender<M> {
    peer: Role,
    tx: mpsc::UnboundedSender<Outgoing>,
    _msg: PhantomData<fn(M)>,
}

impl<M> Clone for Sender<M> {
    fn clone(&self) -> Self {
        Sender {
            peer: self.peer,
            tx: self.tx.clone(),
            _msg: PhantomData,
        }
    }
}

impl<M> Sender<M> {
    /// A sender whose channel does not exist: every send fails with
    /// `Closed`. Stands in for a peer a role is not connected to.
    pub fn closed(peer: Role) -> Self {
        let (tx, _) = mpsc::unbounded_channel();
        Sender {
            peer,
            tx,
            _msg: PhantomData,
        }
    }

    /// The same channel, typed for another message type. For the one place
    /// in a process that maps each peer role to its inbox type.
    pub fn cast<N>(&self) -> Sender<N> {
        Sender {
            peer: self.peer,
            tx: self.tx.clone(),
            _msg: PhantomData,
        }
    }
}

impl<M: Message> Sender<M> {
    /// The role at the other end.
    pub fn peer(&self) -> Role {
        self.peer
    }

    /// Queue `msg` for sending.
    pub fn send(&self, msg: M) -> Result<(), ChannelError> {
        self.send_with_fds(msg, Vec::new())
    }

    /// Queue `msg` for sending together with descriptors. They are closed
    /// in this process once sent.
    pub fn send_with_fds(&self, msg: M, fds: Vec<OwnedFd>) -> Result<(), ChannelError> {
        let bytes = frame::encode(&msg, fds.len())?;
        self.tx
            .send((bytes, fds))
            .map_err(|_| ChannelError::Closed(self.peer))
    }
}

/// Serve `sock` as the channel between `me` and `peer`: messages of type
/// `In` arriving from the peer go to `inbox`; the returned [`Sender`] sends
/// messages of type `Out`. Must be called inside a tokio runtime.
pub fn attach<In: Message, Out>(
    me: Role,
    peer: Role,
    sock: OwnedFd,
    inbox: mpsc::UnboundedSender<Inbound<In>>,
) -> io::Result<Sender<Out>> {
    attach_with_leftover(me, peer, sock, Vec::new(), VecDeque::new(), inbox)
}

/// Like [`attach`], for a socket that a [`BlockingChannel`] used first:
/// bytes and descriptors it had already read but not consumed are handed
/// over so that nothing is lost at the switch.
pub fn attach_with_leftover<In: Message, Out>(
    me: Role,
    peer: Role,
    sock: OwnedFd,
    leftover: Vec<u8>,
    leftover_fds: VecDeque<OwnedFd>,
    inbox: mpsc::UnboundedSender<Inbound<In>>,
) -> io::Result<Sender<Out>> {
    let std_sock = std::os::unix::net::UnixStream::from(sock);
    std_sock.set_nonblocking(true)?;
    let stream = Arc::new(UnixStream::from_std(std_sock)?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(writer(stream.clone(), rx));
    tokio::spawn(reader::<In>(
        me,
        peer,
        stream,
        leftover,
        leftover_fds,
        inbox,
    ));
    Ok(Sender {
        peer,
        tx,
        _msg: PhantomData,
    })
}

async fn writer(stream: Arc<UnixStream>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    // Frames without descriptors that are already queued are coalesced into
    // one write: a burst of small messages costs one system call.
    let mut batch: Vec<u8> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some((bytes, fds)) = next.take() {
            if fds.is_empty() {
                batch.extend_from_slice(&bytes);
            } else {
                if write_all(&stream, &batch, &[]).await.is_err() {
                    return;
                }
                batch.clear();
                if write_all(&stream, &bytes, &fds).await.is_err() {
                    return;
                }
            }
            if batch.len() < READ_CHUNK {
                next = rx.try_recv().ok();
            }
        }
        if write_all(&stream, &batch, &[]).await.is_err() {
            return;
        }
        batch.clear();
    }
    // Every sender is gone: tell the peer we are done writing.
    let _ = nix::sys::socket::shutdown(
        std::os::fd::AsRawFd::as_raw_fd(&stream.as_fd()),
        nix::sys::socket::Shutdown::Write,
    );
}

async fn write_all(stream: &UnixStream, mut bytes: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    let mut fds = os::borrow_all(fds);
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            os::send_with_fds(stream.as_fd(), bytes, &fds)
        }) {
            Ok(n) => {
                bytes = &bytes[n..];
                fds.clear();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn reader<In: Message>(
    me: Role,
    peer: Role,
    stream: Arc<UnixStream>,
    mut buf: Vec<u8>,
    mut fds: VecDeque<OwnedFd>,
    inbox: mpsc::UnboundedSender<Inbound<In>>,
) {
    let error = read_loop(me, peer, &stream, &mut buf, &mut fds, &inbox)
        .await
        .err();
    let _ = inbox.send(Inbound::Closed { from: peer, error });
}

async fn read_loop<In: Message>(
    me: Role,
    peer: Role,
    stream: &UnixStream,
    buf: &mut Vec<u8>,
    fds: &mut VecDeque<OwnedFd>,
    inbox: &mpsc::UnboundedSender<Inbound<In>>,
) -> Result<(), ChannelError> {
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        // Deliver every complete frame already buffered.
        let mut start = 0;
        while let Some(f) = frame::split(&buf[start..])? {
            let msg = take_message::<In>(me, peer, f.payload, f.nfds, fds)?;
            start += f.consumed;
            if matches!(&msg, Inbound::Msg { msg, .. } if msg.applied_on_arrival()) {
                continue;
            }
            if inbox.send(msg).is_err() {
                return Ok(()); // the role is shutting down
            }
        }
        buf.drain(..start);

        stream.readable().await?;
        let mut got = Vec::new();
        match stream.try_io(Interest::READABLE, || {
            os::recv_with_fds(stream.as_fd(), &mut chunk, &mut got)
        }) {
            Ok(0) => {
                return if buf.is_empty() {
                    Ok(())
                } else {
                    Err(ChannelError::Frame(FrameError::TooShort))
                };
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                fds.extend(got);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn take_message<In: Message>(
    me: Role,
    peer: Role,
    payload: &[u8],
    nfds: usize,
    fds: &mut VecDeque<OwnedFd>,
) -> Result<Inbound<In>, ChannelError> {
    if fds.len() < nfds {
        return Err(FrameError::MissingFds {
            announced: nfds,
            arrived: fds.len(),
        }
        .into());
    }
    let msg: In = frame::decode(payload)?;
    let taken: Vec<OwnedFd> = fds.drain(..nfds).collect();
    if !msg.may_come_from(peer) {
        return Err(ChannelError::Forbidden {
            from: peer,
            to: me,
            msg: msg.name(),
        });
    }
    Ok(Inbound::Msg {
        from: peer,
        msg,
        fds: taken,
    })
}

/// The wire without a runtime: blocking sends and receives, for the
/// start-up handshake.
pub struct BlockingChannel {
    sock: OwnedFd,
    buf: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl BlockingChannel {
    pub fn new(sock: OwnedFd) -> Self {
        BlockingChannel {
            sock,
            buf: Vec::new(),
            fds: VecDeque::new(),
        }
    }

    /// Send one message with descriptors, waiting until it is written.
    pub fn send<M: serde::Serialize>(
        &mut self,
        msg: &M,
        fds: &[OwnedFd],
    ) -> Result<(), ChannelError> {
        let bytes = frame::encode(msg, fds.len())?;
        let mut rest: &[u8] = &bytes;
        let mut borrowed = os::borrow_all(fds);
        while !rest.is_empty() {
            match os::send_with_fds(self.sock.as_fd(), rest, &borrowed) {
                Ok(n) => {
                    rest = &rest[n..];
                    borrowed.clear();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Wait for one message and its descriptors. `Err(Closed)` at a clean
    /// end of stream.
    pub fn recv<M: serde::de::DeserializeOwned>(
        &mut self,
        peer: Role,
    ) -> Result<(M, Vec<OwnedFd>), ChannelError> {
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            if let Some(f) = frame::split(&self.buf)? {
                if self.fds.len() < f.nfds {
                    return Err(FrameError::MissingFds {
                        announced: f.nfds,
                        arrived: self.fds.len(),
                    }
                    .into());
                }
                let msg = frame::decode(f.payload)?;
                let consumed = f.consumed;
                let fds = self.fds.drain(..f.nfds).collect();
                self.buf.drain(..consumed);
                return Ok((msg, fds));
            }
            let mut got = Vec::new();
            match os::recv_with_fds(self.sock.as_fd(), &mut chunk, &mut got) {
                Ok(0) => return Err(ChannelError::Closed(peer)),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.fds.extend(got);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Give up the socket, with whatever was read but not yet consumed,
    /// to continue on an async channel ([`attach_with_leftover`]).
    pub fn into_parts(self) -> (OwnedFd, Vec<u8>, VecDeque<OwnedFd>) {
        (self.sock, self.buf, self.fds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::io::{Read, Seek, SeekFrom, Write};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum ToB {
        Ping(u32),
        File,
        Secret,
        Level(u32),
    }

    /// What the last `ToB::Level` set.
    static LEVEL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    impl Message for ToB {
        fn may_come_from(&self, from: Role) -> bool {
            match self {
                ToB::Secret => from == Role::Parent,
                _ => true,
            }
        }
        fn name(&self) -> &'static str {
            match self {
                ToB::Ping(_) => "Ping",
                ToB::File => "File",
                ToB::Secret => "Secret",
                ToB::Level(_) => "Level",
            }
        }
        fn applied_on_arrival(&self) -> bool {
            match self {
                ToB::Level(n) => {
                    LEVEL.store(*n, std::sync::atomic::Ordering::SeqCst);
                    true
                }
                _ => false,
            }
        }
    }

    #[tokio::test]
    async fn orders_applied_on_arrival_never_reach_the_inbox() {
        let (a, b) = os::stream_pair().unwrap();
        let (tx_a, _rx_a) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let to_b: Sender<ToB> = attach(Role::Control, Role::Queue, a, tx_a).unwrap();
        let _to_a: Sender<ToB> = attach(Role::Queue, Role::Control, b, tx_b).unwrap();
        to_b.send(ToB::Level(7)).unwrap();
        to_b.send(ToB::Ping(1)).unwrap();
        match rx_b.recv().await.unwrap() {
            Inbound::Msg {
                msg: ToB::Ping(1), ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(LEVEL.load(std::sync::atomic::Ordering::SeqCst), 7);
    }

    fn memfile(content: &[u8]) -> std::fs::File {
        let fd = nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MFdFlags::empty()).unwrap();
        let mut f = std::fs::File::from(fd);
        f.write_all(content).unwrap();
        f
    }

    #[tokio::test]
    async fn messages_and_descriptors_arrive_in_order() {
        let (a, b) = os::stream_pair().unwrap();
        let (tx_a, _rx_a) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let to_b: Sender<ToB> = attach(Role::Smtp, Role::Queue, a, tx_a).unwrap();
        let _to_a: Sender<ToB> = attach(Role::Queue, Role::Smtp, b, tx_b).unwrap();
        for i in 0..1000 {
            to_b.send(ToB::Ping(i)).unwrap();
            if i % 100 == 0 {
                to_b.send_with_fds(
                    ToB::File,
                    vec![memfile(format!("file {i}").as_bytes()).into()],
                )
                .unwrap();
            }
        }
        let mut pings = 0;
        let mut files = 0;
        while pings < 1000 || files < 10 {
            match rx_b.recv().await.unwrap() {
                Inbound::Msg {
                    from,
                    msg: ToB::Ping(i),
                    fds,
                } => {
                    assert_eq!(from, Role::Smtp);
                    assert_eq!(i, pings);
                    assert!(fds.is_empty());
                    pings += 1;
                }
                Inbound::Msg {
                    msg: ToB::File,
                    mut fds,
                    ..
                } => {
                    assert_eq!(fds.len(), 1);
                    let mut f = std::fs::File::from(fds.pop().unwrap());
                    f.seek(SeekFrom::Start(0)).unwrap();
                    let mut s = String::new();
                    f.read_to_string(&mut s).unwrap();
                    assert_eq!(s, format!("file {}", files * 100));
                    files += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_forbidden_message_closes_the_channel_naming_both_roles() {
        let (a, b) = os::stream_pair().unwrap();
        let (tx_a, _rx_a) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let to_b: Sender<ToB> = attach(Role::Smtp, Role::Queue, a, tx_a).unwrap();
        let _to_a: Sender<ToB> = attach(Role::Queue, Role::Smtp, b, tx_b).unwrap();
        to_b.send(ToB::Secret).unwrap();
        match rx_b.recv().await.unwrap() {
            Inbound::Closed {
                from,
                error: Some(e),
            } => {
                assert_eq!(from, Role::Smtp);
                assert_eq!(e.to_string(), "smtp may not send Secret to queue");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn garbage_on_the_wire_is_a_frame_error() {
        let (a, b) = os::stream_pair().unwrap();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let _to_a: Sender<ToB> = attach(Role::Queue, Role::Smtp, b, tx_b).unwrap();
        let mut raw = std::os::unix::net::UnixStream::from(a);
        raw.write_all(&[0, 0, 0, 3, 0xee, 0, 0]).unwrap();
        match rx_b.recv().await.unwrap() {
            Inbound::Closed {
                error: Some(ChannelError::Frame(FrameError::Version(0xee))),
                ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn peer_closing_is_reported() {
        let (a, b) = os::stream_pair().unwrap();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let _to_a: Sender<ToB> = attach(Role::Queue, Role::Lka, b, tx_b).unwrap();
        drop(a);
        match rx_b.recv().await.unwrap() {
            Inbound::Closed {
                from: Role::Lka,
                error: None,
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn blocking_handshake_then_async_loses_nothing() {
        let (a, b) = os::stream_pair().unwrap();
        let mut parent = BlockingChannel::new(a);
        // The parent sends the handshake and, right behind it, a message the
        // child will only read once it is async.
        parent.send(&ToB::Ping(1), &[]).unwrap();
        parent.send(&ToB::File, &[memfile(b"late").into()]).unwrap();
        parent.send(&ToB::Ping(2), &[]).unwrap();
        let mut child = BlockingChannel::new(b);
        let (m, _): (ToB, _) = child.recv(Role::Parent).unwrap();
        assert_eq!(m, ToB::Ping(1));
        let (sock, buf, fds) = child.into_parts();
        let (tx, mut rx) = mpsc::unbounded_channel::<Inbound<ToB>>();
        let _s: Sender<ToB> =
            attach_with_leftover(Role::Queue, Role::Parent, sock, buf, fds, tx).unwrap();
        match rx.recv().await.unwrap() {
            Inbound::Msg {
                msg: ToB::File,
                fds,
                ..
            } => assert_eq!(fds.len(), 1),
            other => panic!("unexpected {other:?}"),
        }
        match rx.recv().await.unwrap() {
            Inbound::Msg {
                msg: ToB::Ping(2), ..
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
