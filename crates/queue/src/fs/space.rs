//! The disk-space check: is there room for new mail?

use crate::QueueError;
use nix::sys::statvfs::statvfs;
use std::path::Path;

/// `true` when strictly more than `reserve_percent` of the blocks and of
/// the inodes of the file system holding `root` are available to us.
/// File systems that do not count inodes (they report 0) are judged on
/// blocks alone.
pub(super) fn has_room(root: &Path, reserve_percent: u8) -> Result<bool, QueueError> {
    let st = statvfs(root).map_err(|e| QueueError::io("statvfs", root)(e.into()))?;
    let reserve = u128::from(reserve_percent.min(100));
    let above = |avail: u64, total: u64| u128::from(avail) * 100 > u128::from(total) * reserve;
    let blocks_ok = above(st.blocks_available() as u64, st.blocks() as u64);
    let files = st.files() as u64;
    let inodes_ok = files == 0 || above(st.files_available() as u64, files);
    Ok(blocks_ok && inodes_ok)
}
