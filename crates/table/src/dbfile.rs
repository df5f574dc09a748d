//! The on-disk format of `db` tables: a CDB (constant database) file, as
//! built by makemap and read by the db backend.
//!
//! Records are `lower-cased key → value` (an empty value in a list), in the
//! order of the source file, preceded by one metadata record whose key
//! starts with a NUL byte (which no table key can contain) saying the format
//! version and whether the table is a list or a mapping.
//!
//! CDB was chosen for being a constant database replaced atomically as a
//! whole, which is exactly makemap's model; `cdb2` reads it through a
//! memory map. Because a map of a file truncated in place would fault,
//! files are always replaced by rename, and every file is checked
//! structurally before it is used, so a damaged file is an error, never a
//! crash.

use crate::table::TableKind;
use crate::tablefile::Record;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The key of the metadata record.
pub(crate) const META_KEY: &[u8] = b"\0smtpd-table";
const META_LIST: &[u8] = b"1 list";
const META_MAPPING: &[u8] = b"1 mapping";

/// A stored record: key and value bytes.
pub(crate) type RawRecord = (Vec<u8>, Vec<u8>);

/// Size of the CDB header: 256 (position, slot count) pairs.
const HEADER: u64 = 2048;

/// Identity of a file version, to notice that a database was replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    pub(crate) fn of(meta: &Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    pub(crate) fn of_path(path: &Path) -> io::Result<FileStamp> {
        Ok(FileStamp::of(&std::fs::metadata(path)?))
    }
}

/// Write a database atomically: a temporary file in the same directory,
/// fsync, rename over `out`, fsync the directory. With `like`, the file
/// gets that file's mode, owner and group, as makemap carries the source
/// file's over (an aliases file readable by the daemon's group gives a
/// database readable by it too).
pub(crate) fn write_db(
    out: &Path,
    kind: TableKind,
    records: &[Record],
    like: Option<&Metadata>,
) -> io::Result<()> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{base}."))
        .tempfile_in(dir)?;
    let mut cdb = cdb2::CDBMake::new(tmp.as_file().try_clone()?)?;
    let meta = match kind {
        TableKind::List => META_LIST,
        _ => META_MAPPING,
    };
    cdb.add(META_KEY, meta)?;
    for (key, value) in records {
        cdb.add(key.as_bytes(), value.as_deref().unwrap_or("").as_bytes())?;
    }
    cdb.finish()?;
    if let Some(like) = like {
        let file = tmp.as_file();
        let mine = file.metadata()?;
        if (mine.uid(), mine.gid()) != (like.uid(), like.gid()) {
            std::os::unix::fs::fchown(file, Some(like.uid()), Some(like.gid())).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot give the database the source's owner and group: {e}"),
                )
            })?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(like.mode() & 0o7777))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(out).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// An opened database: the CDB reader, the table kind and the file stamp.
pub(crate) struct DbFile {
    pub cdb: cdb2::CDB,
    pub kind: TableKind,
    pub stamp: FileStamp,
}

impl std::fmt::Debug for DbFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbFile")
            .field("kind", &self.kind)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

/// Why a file is not a usable database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbOpenError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}")]
    Bad(String),
}

impl DbFile {
    /// Open and check a database. The file is checked through the same
    /// descriptor it was read from, then mapped by path; if it was replaced
    /// in between (the stamps differ) the whole step is retried.
    pub(crate) fn open(path: &Path) -> Result<DbFile, DbOpenError> {
        for _ in 0..3 {
            let mut file = File::open(path)?;
            let stamp = FileStamp::of(&file.metadata()?);
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            check_structure(&bytes).map_err(DbOpenError::Bad)?;
            let cdb = cdb2::CDB::open(path)?;
            if FileStamp::of_path(path)? != stamp {
                continue;
            }
            let kind = match cdb.get(META_KEY).transpose()?.as_deref() {
                Some(META_LIST) => TableKind::List,
                Some(META_MAPPING) => TableKind::Mapping,
                Some(_) => return Err(DbOpenError::Bad("unknown format version".into())),
                None => {
                    return Err(DbOpenError::Bad(
                        "no table metadata (not built by our makemap)".into(),
                    ))
                }
            };
            return Ok(DbFile { cdb, kind, stamp });
        }
        Err(DbOpenError::Bad("file keeps changing while opened".into()))
    }

    /// Every record but the metadata, in file order.
    pub(crate) fn records(&self) -> Result<Vec<RawRecord>, io::Error> {
        let mut out = Vec::new();
        for record in self.cdb.iter() {
            let (k, v) = record?;
            if k != META_KEY {
                out.push((k, v));
            }
        }
        Ok(out)
    }
}

fn u32_at(bytes: &[u8], pos: u64) -> Option<u64> {
    let pos = usize::try_from(pos).ok()?;
    let b = bytes.get(pos..pos.checked_add(4)?)?;
    Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// Check that every offset in the file stays inside it, so that the CDB
/// reader's 32-bit arithmetic can neither overflow nor leave the map.
fn check_structure(bytes: &[u8]) -> Result<(), String> {
    let len = bytes.len() as u64;
    if len < HEADER {
        return Err("file shorter than a CDB header".into());
    }
    if len > u64::from(u32::MAX) {
        return Err("file larger than 4 GiB".into());
    }
    let data_end = u32_at(bytes, 0).ok_or("truncated header")?;
    if data_end < HEADER || data_end > len {
        return Err("bad end of records".into());
    }
    let record_end = |pos: u64| -> Result<u64, String> {
        let klen = u32_at(bytes, pos).ok_or("truncated record")?;
        let dlen = u32_at(bytes, pos + 4).ok_or("truncated record")?;
        let end = pos + 8 + klen + dlen;
        if end > data_end {
            return Err(format!("record at {pos} runs past the end of the records"));
        }
        Ok(end)
    };
    let mut pos = HEADER;
    while pos + 8 <= data_end {
        pos = record_end(pos)?;
    }
    if pos != data_end {
        return Err("trailing bytes after the last record".into());
    }
    for table in 0..256u64 {
        let hpos = u32_at(bytes, table * 8).ok_or("truncated header")?;
        let slots = u32_at(bytes, table * 8 + 4).ok_or("truncated header")?;
        if slots == 0 {
            continue;
        }
        if hpos < data_end || hpos + slots * 8 > len {
            return Err(format!("hash table {table} lies outside the file"));
        }
        for slot in 0..slots {
            let rec = u32_at(bytes, hpos + slot * 8 + 4).ok_or("truncated hash table")?;
            if rec != 0 && (rec < HEADER || rec + 8 > data_end) {
                return Err(format!("hash table {table} points outside the records"));
            }
            if rec != 0 {
                record_end(rec)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let records = vec![
            ("b".to_string(), Some("2".to_string())),
            ("a".to_string(), Some("1".to_string())),
        ];
        let like = dir.path().join("like");
        std::fs::write(&like, "").unwrap();
        std::fs::set_permissions(&like, std::fs::Permissions::from_mode(0o640)).unwrap();
        let like = std::fs::metadata(&like).unwrap();
        write_db(&path, TableKind::Mapping, &records, Some(&like)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let db = DbFile::open(&path).unwrap();
        assert_eq!(db.kind, TableKind::Mapping);
        let recs = db.records().unwrap();
        assert_eq!(
            recs,
            vec![
                (b"b".to_vec(), b"2".to_vec()),
                (b"a".to_vec(), b"1".to_vec())
            ]
        );

        // Every truncation and every single-byte change is an error or a
        // valid database, never a crash.
        let good = std::fs::read(&path).unwrap();
        let bad = dir.path().join("bad.db");
        for cut in [0, 100, 2047, 2048, good.len() - 1] {
            std::fs::write(&bad, &good[..cut]).unwrap();
            assert!(DbFile::open(&bad).is_err(), "cut at {cut}");
        }
        for i in (0..good.len()).step_by(7) {
            let mut copy = good.clone();
            copy[i] ^= 0xff;
            std::fs::write(&bad, &copy).unwrap();
            if let Ok(db) = DbFile::open(&bad) {
                let _ = db.records();
                let _ = db.cdb.get(b"a");
            }
        }
    }

    #[test]
    fn foreign_cdb_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.cdb");
        let mut w = cdb2::CDBWriter::create(&path).unwrap();
        w.add(b"k", b"v").unwrap();
        w.finish().unwrap();
        let err = DbFile::open(&path).unwrap_err();
        assert!(err.to_string().contains("not built by our makemap"));
    }
}
