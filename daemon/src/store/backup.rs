//! Online backups: a consistent RocksDB checkpoint of the live store, the producers'
//! sequences read back from that checkpoint, and `stockbell-backup.json` (every file
//! with its size and SHA-256) written last, so a directory without it is incomplete by
//! construction. [`verify`] checks a backup before anything is copied; [`restore`]
//! copies a verified backup into a data directory (temp dir next to it, then rename).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use rocksdb::checkpoint::Checkpoint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::records::Producers;
use super::schema::{Cf, Schema};
use super::{Store, StoreError};

/// The manifest's file name inside a backup directory.
pub const MANIFEST: &str = "stockbell-backup.json";
/// The manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One backup at a time: a second one naming the same `dir` must not remove the first's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What a backup holds: written last into the backup directory as [`MANIFEST`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The stockbelld version that took the backup.
    pub stockbelld_version: String,
    /// When the checkpoint was taken, ms since the epoch.
    pub taken_ms: i64,
    /// Every file of the checkpoint (not the manifest), by path relative to the backup
    /// directory, sorted.
    pub files: Vec<FileEntry>,
    /// Each producer's last applied sequence as the checkpoint holds it, by producer id.
    pub producers: Vec<ProducerSequence>,
}

impl Manifest {
    /// Total size of the listed files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the contents.
    pub sha256: String,
}

/// A producer's last applied batch sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerSequence {
    pub producer_id: String,
    pub sequence: u64,
}

/// Why a backup could not be taken. Nothing is left at the target directory.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request is wrong whatever the host's state (INVALID_ARGUMENT).
    #[error("dir: {0}")]
    Invalid(String),
    /// The host's state does not allow it (FAILED_PRECONDITION).
    #[error("dir: {0}")]
    Precondition(String),
    /// Reading the store or writing the backup failed (INTERNAL).
    #[error("backup failed: {0}")]
    Failed(String),
}

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError::Failed(e.to_string())
    }
}

/// Why a backup directory is not a complete, intact backup, or could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "{dir}: no {MANIFEST}: the backup is incomplete (the manifest is written last); \
         take a new backup"
    )]
    NoManifest { dir: PathBuf },
    #[error("{path}: the manifest is unreadable: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error("{path}: listed in the manifest but missing")]
    Missing { path: PathBuf },
    #[error("{path}: {size} bytes, the manifest says {expected}")]
    Size {
        path: PathBuf,
        size: u64,
        expected: u64,
    },
    #[error("{path}: the SHA-256 does not match the manifest (the file was changed)")]
    Checksum { path: PathBuf },
    #[error("{path}: not listed in the manifest (remove it, or use an untouched backup)")]
    Extra { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Takes a backup of the live `store` into `dir` (must not exist; its parent must and
/// must be writable): a RocksDB checkpoint (SST files hard-linked when on the same
/// filesystem, the rest copied), then the producers' sequences read from the checkpoint
/// opened read-only, then the manifest (temp file, fsync, rename). Blocking: call on a
/// blocking thread. On failure whatever was created at `dir` is removed.
pub fn create(
    store: &Store,
    dir: &Path,
    taken_ms: i64,
    version: &str,
) -> Result<Manifest, BackupError> {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    check_target(dir)?;
    let res = checkpoint_and_manifest(store, dir, taken_ms, version);
    if res.is_err() {
        let _ = fs::remove_dir_all(dir);
        let _ = fs::remove_dir_all(rocksdb_tmp_dir(dir));
    }
    res
}

/// RocksDB builds a checkpoint in `<dir>.tmp` and renames it.
fn rocksdb_tmp_dir(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// `dir` is absolute, does not exist, and its parent is a writable directory.
pub fn check_target(dir: &Path) -> Result<(), BackupError> {
    if dir.as_os_str().is_empty() {
        return Err(BackupError::Invalid(
            "empty: give an absolute path on the daemon's host that does not exist yet".into(),
        ));
    }
    if !dir.is_absolute() {
        return Err(BackupError::Invalid(format!(
            "{} is relative: give an absolute path on the daemon's host",
            dir.display()
        )));
    }
    if fs::symlink_metadata(dir).is_ok() {
        return Err(BackupError::Precondition(format!(
            "{} already exists: name a new directory (a backup never overwrites one)",
            dir.display()
        )));
    }
    let parent = match dir.parent() {
        Some(p) if p.is_dir() => p,
        _ => {
            return Err(BackupError::Precondition(format!(
                "the parent of {} does not exist: create it first (mkdir -p, owned by the \
                 daemon's user)",
                dir.display()
            )))
        }
    };
    if fs::symlink_metadata(rocksdb_tmp_dir(dir)).is_ok() {
        return Err(BackupError::Precondition(format!(
            "{} exists (left by an interrupted backup?): remove it or name another dir",
            rocksdb_tmp_dir(dir).display()
        )));
    }
    let probe = parent.join(format!(".stockbell-backup-probe-{}", std::process::id()));
    match File::create(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(BackupError::Precondition(format!(
            "cannot write in {} ({e}): make it writable by the daemon's user or choose \
             another parent",
            parent.display()
        ))),
    }
}

fn checkpoint_and_manifest(
    store: &Store,
    dir: &Path,
    taken_ms: i64,
    version: &str,
) -> Result<Manifest, BackupError> {
    let failed = |what: &str| {
        let what = what.to_string();
        move |e: rocksdb::Error| BackupError::Failed(format!("{what}: {e}"))
    };
    Checkpoint::new(store.db())
        .map_err(failed("checkpoint"))?
        .create_checkpoint(dir)
        .map_err(failed("checkpoint"))?;
    let producers = producers_in(dir)?;
    let files = list_files(dir).map_err(|e| BackupError::Failed(e.to_string()))?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        stockbelld_version: version.to_string(),
        taken_ms,
        files,
        producers,
    };
    write_manifest(dir, &manifest).map_err(|e| BackupError::Failed(e.to_string()))?;
    Ok(manifest)
}

/// The producers' sequences in the checkpoint at `dir`, opened read-only (its WAL, if
/// any, replayed in memory: exactly what a daemon restored from it starts with).
pub fn producers_in(dir: &Path) -> Result<Vec<ProducerSequence>, BackupError> {
    let opts = rocksdb::Options::default();
    let db = rocksdb::DB::open_cf_for_read_only(&opts, dir, [Cf::Producers.name()], false)
        .map_err(|e| BackupError::Failed(format!("reading the checkpoint's producers: {e}")))?;
    let cf = db.cf_handle(Cf::Producers.name()).ok_or_else(|| {
        BackupError::Failed("the checkpoint has no producers column family".into())
    })?;
    let mut out = Vec::new();
    for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
        let (k, v) = item.map_err(StoreError::from)?;
        out.push(ProducerSequence {
            producer_id: Producers::decode_key(&k)?,
            sequence: Producers::decode_value(&v)?.last_sequence,
        });
    }
    Ok(out)
}

/// Size and SHA-256 of every file under `dir` except the manifest (and its temp file),
/// sorted by relative path.
pub fn list_files(dir: &Path) -> Result<Vec<FileEntry>, VerifyError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, at: &Path, out: &mut Vec<FileEntry>) -> Result<(), VerifyError> {
    for entry in fs::read_dir(at).map_err(io_err(at))? {
        let entry = entry.map_err(io_err(at))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err(&path))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let rel = relative(root, &path);
        if rel == MANIFEST || rel == manifest_tmp_name() {
            continue;
        }
        let (size, sha256) = hash_file(&path)?;
        out.push(FileEntry {
            path: rel,
            size,
            sha256,
        });
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Size and lower-case hex SHA-256 of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String), VerifyError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    hash_copy(&mut f, None, path)
}

/// Reads `src` to the end, feeding the hash (and `dst` when given).
fn hash_copy(
    src: &mut File,
    mut dst: Option<&mut File>,
    path: &Path,
) -> Result<(u64, String), VerifyError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(d) = dst.as_deref_mut() {
            d.write_all(&buf[..n]).map_err(io_err(path))?;
        }
        size += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

fn manifest_tmp_name() -> String {
    format!(".{MANIFEST}.tmp")
}

/// Writes the manifest into `dir`: a temp file, fsync, rename, fsync of the directory.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> io::Result<()> {
    let tmp = dir.join(manifest_tmp_name());
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    let mut f = File::create(&tmp)?;
    f.write_all(&json)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(MANIFEST))?;
    File::open(dir)?.sync_all()
}

/// Reads a backup's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, VerifyError> {
    let path = dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(VerifyError::NoManifest {
                dir: dir.to_path_buf(),
            })
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    let bad = |reason: String| VerifyError::BadManifest {
        path: path.clone(),
        reason,
    };
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if m.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format_version {} (this stockbelld reads {FORMAT_VERSION}): restore with the \
             stockbelld version that took it ({})",
            m.format_version, m.stockbelld_version
        )));
    }
    for f in &m.files {
        if !is_plain_relative(&f.path) {
            return Err(bad(format!(
                "file path {:?} leaves the backup directory",
                f.path
            )));
        }
    }
    Ok(m)
}

fn is_plain_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Checks that `dir` is a complete, untouched backup: the manifest is there, every file
/// it lists exists with its size and SHA-256, and there is no other file. Reads every
/// byte; changes nothing.
pub fn verify(dir: &Path) -> Result<Manifest, VerifyError> {
    let m = read_manifest(dir)?;
    for f in &m.files {
        let path = dir.join(&f.path);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(VerifyError::Missing { path })
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        if meta.len() != f.size {
            return Err(VerifyError::Size {
                path,
                size: meta.len(),
                expected: f.size,
            });
        }
        let (size, sha) = hash_file(&path)?;
        if size != f.size {
            return Err(VerifyError::Size {
                path,
                size,
                expected: f.size,
            });
        }
        if sha != f.sha256 {
            return Err(VerifyError::Checksum { path });
        }
    }
    for found in list_files(dir)? {
        if !m.files.iter().any(|f| f.path == found.path) {
            return Err(VerifyError::Extra {
                path: dir.join(found.path),
            });
        }
    }
    Ok(m)
}

/// Copies a verified backup's files into a new directory `tmp` (created here), checking
/// each copy's SHA-256 as it is written and syncing everything.
pub fn copy_verified(from: &Path, m: &Manifest, tmp: &Path) -> Result<(), VerifyError> {
    fs::create_dir(tmp).map_err(io_err(tmp))?;
    for f in &m.files {
        let src_path = from.join(&f.path);
        let dst_path = tmp.join(&f.path);
        if let Some(parent) = dst_path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut src = File::open(&src_path).map_err(io_err(&src_path))?;
        let mut dst = File::create(&dst_path).map_err(io_err(&dst_path))?;
        let (size, sha) = hash_copy(&mut src, Some(&mut dst), &src_path)?;
        if size != f.size {
            return Err(VerifyError::Size {
                path: src_path,
                size,
                expected: f.size,
            });
        }
        if sha != f.sha256 {
            return Err(VerifyError::Checksum { path: src_path });
        }
        dst.sync_all().map_err(io_err(&dst_path))?;
    }
    File::open(tmp)
        .and_then(|d| d.sync_all())
        .map_err(io_err(tmp))
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The backup's manifest (verified).
    pub manifest: Manifest,
    /// The data directory as restored (absolute).
    pub data_dir: PathBuf,
    /// Where a non-empty data directory was moved to (`--force`).
    pub replaced: Option<PathBuf>,
}

/// Offline restore of the backup at `from` into `data_dir`. Refuses, changing nothing,
/// when the backup does not verify, when a daemon holds `data_dir` (its RocksDB lock), or
/// when `data_dir` is a non-empty directory and `force` is not set; with `force` the old
/// directory is kept, renamed to `<data_dir>.replaced-<ms>`. The files are copied (and
/// their checksums checked again) into a temp dir next to `data_dir`, then renamed.
pub fn restore(from: &Path, data_dir: &Path, force: bool, now_ms: i64) -> Result<Restored, String> {
    let manifest = verify(from).map_err(|e| format!("--from: {e}"))?;
    let data_dir = std::path::absolute(data_dir)
        .map_err(|e| format!("--data-dir {}: {e}", data_dir.display()))?;
    let (parent, name) = match (data_dir.parent(), data_dir.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_owned()),
        _ => {
            return Err(format!(
                "--data-dir {}: names no directory",
                data_dir.display()
            ))
        }
    };
    if !parent.is_dir() {
        return Err(format!(
            "--data-dir: the parent {} does not exist: create it first",
            parent.display()
        ));
    }
    let existing = match fs::symlink_metadata(&data_dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(format!(
                "--data-dir {} exists and is not a directory: name a directory",
                data_dir.display()
            ))
        }
        Ok(_) => fs::read_dir(&data_dir)
            .map_err(|e| format!("--data-dir {}: {e}", data_dir.display()))?
            .next()
            .is_some(),
        Err(_) => false,
    };
    if existing && !force {
        return Err(format!(
            "--data-dir {} is not empty: stop its daemon and restore into a new or empty \
             directory, or add --force to move the old one aside (kept as {}.replaced-<ms>)",
            data_dir.display(),
            data_dir.display()
        ));
    }
    // Only with --force: opening takes the lock (a running daemon holds it) and may
    // recover the old store, which is then moved aside anyway.
    // Held (with the lock) until the old directory is moved aside.
    let mut held = None;
    if existing && data_dir.join("LOCK").exists() {
        match Store::open(&data_dir) {
            Ok(store) => held = Some(store),
            Err(e) => {
                return Err(format!(
                    "--data-dir {} is in use ({e}): stop the daemon that holds it first",
                    data_dir.display()
                ))
            }
        }
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(format!(".restore-{}", std::process::id()));
    let tmp = parent.join(tmp_name);
    if fs::symlink_metadata(&tmp).is_ok() {
        return Err(format!(
            "{} exists (an interrupted restore?): remove it and try again",
            tmp.display()
        ));
    }
    if let Err(e) = copy_verified(from, &manifest, &tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!("--from: {e}"));
    }
    let mut replaced = None;
    if data_dir.exists() {
        let moved = if existing {
            let mut aside = data_dir.as_os_str().to_owned();
            aside.push(format!(".replaced-{now_ms}"));
            let aside = PathBuf::from(aside);
            fs::rename(&data_dir, &aside).map(|()| Some(aside))
        } else {
            fs::remove_dir(&data_dir).map(|()| None)
        };
        match moved {
            Ok(r) => replaced = r,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(format!("--data-dir {}: {e}", data_dir.display()));
            }
        }
    }
    drop(held);
    if let Err(e) = fs::rename(&tmp, &data_dir) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!(
            "cannot rename {} to {}: {e}",
            tmp.display(),
            data_dir.display()
        ));
    }
    let _ = File::open(&parent).and_then(|d| d.sync_all());
    Ok(Restored {
        manifest,
        data_dir,
        replaced,
    })
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
