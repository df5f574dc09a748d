//! The operating-system side of the wire: socketpairs and descriptor passing.
//!
//! Everything here is a thin layer over `nix`. The one `unsafe` operation of
//! the crate lives in this module: turning the raw descriptor numbers the
//! kernel hands us in an `SCM_RIGHTS` control message into owned descriptors.

use nix::cmsg_space;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::frame::MAX_FDS_PER_FRAME;

/// A connected pair of stream sockets, both close-on-exec.
pub fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Let `fd` survive `exec`: used for the one descriptor a child inherits
/// from the parent (its channel), which must be created close-on-exec like
/// every other descriptor and opened up just before the spawn.
pub fn clear_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))
        .map(|_| ())
        .map_err(io::Error::from)
}

/// Set close-on-exec again (after the spawn, in the parent).
pub fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(|_| ())
        .map_err(io::Error::from)
}

/// Send `bytes` on the socket, with `fds` attached to the first byte.
/// Returns how many bytes were written (possibly fewer than asked; the
/// descriptors are sent with the first successful write only, so callers
/// pass an empty `fds` when they continue a partial write).
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [IoSlice::new(bytes)];
    let cmsgs = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(io::Error::from)
}

/// Receive into `buf`; descriptors that arrive are appended to `fds`.
/// Returns the number of bytes read (0 at end of stream). Descriptors are
/// received close-on-exec, so they never leak into programs we start.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = cmsg_space!([RawFd; MAX_FDS_PER_FRAME]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut got = Vec::new();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmRights(raw) = c {
                got.extend(raw);
            }
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
    let n = msg.bytes;
    for raw in got {
        // SAFETY: the kernel just installed `raw` in our descriptor table
        // for us (SCM_RIGHTS); nothing else in the process knows this
        // number, so taking ownership of it is sound and ensures it is
        // closed exactly once.
        #[allow(unsafe_code)]
        fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
    }
    if truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "descriptors were truncated in transit",
        ));
    }
    Ok(n)
}

/// Take ownership of a descriptor inherited across `exec` (a child's
/// channel to its parent, whose number it learns from its command line).
/// Fails if `fd` is not an open descriptor.
pub fn adopt_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "standard streams cannot be a channel",
        ));
    }
    // SAFETY: F_GETFD on an arbitrary number is harmless; it only tells
    // whether the number is an open descriptor.
    #[allow(unsafe_code)]
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    fcntl(borrowed, FcntlArg::F_GETFD).map_err(io::Error::from)?;
    set_cloexec(borrowed)?;
    // SAFETY: the descriptor is open (checked above) and was given to this
    // process by its parent for this sole use; nothing else in the process
    // refers to it, so owning it here closes it exactly once.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Borrow a list of owned descriptors.
pub fn borrow_all(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn a_descriptor_sent_arrives_open_and_usable() {
        let (a, b) = stream_pair().unwrap();
        let mut tmp = tempfile_in_memory();
        tmp.write_all(b"hello through SCM_RIGHTS").unwrap();
        let owned: OwnedFd = tmp.into();
        let n = send_with_fds(a.as_fd(), b"x", &[owned.as_fd()]).unwrap();
        assert_eq!(n, 1);
        drop(owned);
        let mut buf = [0u8; 16];
        let mut fds = Vec::new();
        let n = recv_with_fds(b.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(n, 1);
        assert_eq!(fds.len(), 1);
        let mut f = File::from(fds.pop().unwrap());
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello through SCM_RIGHTS");
    }

    fn tempfile_in_memory() -> File {
        let fd =
            nix::sys::memfd::memfd_create(c"ipc-test", nix::sys::memfd::MFdFlags::empty()).unwrap();
        File::from(fd)
    }
}
