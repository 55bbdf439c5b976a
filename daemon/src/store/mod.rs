//! RocksDB storage: column families, typed schemas (`schema.rs`), the group-commit
//! writer (`writer.rs`) through which every write goes, and whether the store takes
//! writes (`health.rs`). Opening sets the bounds on what lives outside SST files: the
//! write-ahead log and the memtables (`StoreLimits`).

pub mod attribution;
pub mod backup;
mod batch;
pub mod board;
pub mod codec;
pub mod health;
pub mod interest;
pub mod meta;
pub mod orders;
pub mod outbox;
pub mod records;
pub mod related;
pub mod schema;
pub mod segment_history;
pub mod segment_sync;
pub mod writer;

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options, DB,
};

pub use batch::Batch;
pub use schema::{Cf, Encoded, MergeSchema, PrefixSchema, Schema};

/// Where an iteration starts.
pub enum Seek<'a, S: Schema> {
    /// The first record, forwards.
    First,
    /// The last record, backwards.
    Last,
    /// The first record at or after the key, forwards.
    From(S::KeyRef<'a>),
    /// The last record at or before the key, backwards.
    Back(S::KeyRef<'a>),
}

impl<S: Schema> Seek<'_, S> {
    fn direction(&self) -> Direction {
        match self {
            Seek::First | Seek::From(_) => Direction::Forward,
            Seek::Last | Seek::Back(_) => Direction::Reverse,
        }
    }
}

/// Decoded records of one schema, in key order (or reverse), within a prefix if any.
pub struct Iter<'a, S: Schema> {
    inner: rocksdb::DBIteratorWithThreadMode<'a, DB>,
    prefix: Option<Vec<u8>>,
    schema: PhantomData<fn() -> S>,
}

impl<S: Schema> Iterator for Iter<'_, S> {
    type Item = Result<(S::Key, S::Value), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = match self.inner.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e.into())),
        };
        if self.prefix.as_ref().is_some_and(|p| !k.starts_with(p)) {
            return None;
        }
        Some(S::decode_key(&k).and_then(|key| Ok((key, S::decode_value(&v)?))))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("stored record in {cf} is unreadable: {reason}")]
    Corrupt { cf: &'static str, reason: String },
    #[error("the store was closed")]
    Closed,
}

/// Bounds on what the store keeps besides its SST files (`storage.max_wal_bytes`,
/// `storage.max_memtable_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Once the write-ahead log holds more than this, RocksDB flushes the column
    /// families whose unflushed writes keep its oldest file alive, so the file can go.
    /// Bounds the disk used by the log and the replay after a crash.
    pub max_wal_bytes: u64,
    /// All memtables together; past it the largest is flushed. One column family's
    /// memtable is at most a quarter of it.
    pub max_memtable_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_wal_bytes: 256 << 20,
            max_memtable_bytes: 128 << 20,
        }
    }
}

/// An open database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
}

impl Store {
    /// Opens (or creates) the store with the default limits.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, StoreLimits::default())
    }

    pub fn open_with(path: &Path, limits: StoreLimits) -> Result<Store, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_keep_log_file_num(5);
        // The WAL append of one group overlaps the memtable insert of the previous one.
        opts.set_enable_pipelined_write(true);
        // Without these the log is only bounded by 4 x the sum of all write buffers (GBs
        // with 13 column families): the small ones (producers, timers, meta) never fill a
        // memtable, so their first unflushed write pins every log file after it.
        opts.set_max_total_wal_size(limits.max_wal_bytes);
        opts.set_db_write_buffer_size(limits.max_memtable_bytes);
        // A full disk stops writes until RocksDB's recovery sees this much free space
        // (the largest write buffer), so keeping buffers small also lets it resume sooner.
        let write_buffer = (limits.max_memtable_bytes / 4).max(1 << 20);
        let cache = Cache::new_lru_cache(128 << 20);
        let cfs = Cf::ALL.iter().map(|cf| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            o.set_write_buffer_size(write_buffer);
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            o.set_block_based_table_factory(&table);
            match cf {
                Cf::Interest | Cf::InterestByCustomer => o.set_merge_operator(
                    "stockbell.interest_edge.v1",
                    interest::edge_full_merge,
                    interest::edge_partial_merge,
                ),
                Cf::CategoryInterest => o.set_merge_operator(
                    "stockbell.category_affinity.v1",
                    interest::affinity_full_merge,
                    interest::affinity_partial_merge,
                ),
                Cf::ScenarioAttribution => o.set_merge_operator(
                    "stockbell.scenario_attribution.v1",
                    attribution::full_merge,
                    attribution::partial_merge,
                ),
                _ => {}
            }
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        // RocksDB's own "default" column family (unused) counts for the free space too.
        let mut default_cf = Options::default();
        default_cf.set_write_buffer_size(write_buffer);
        let cfs = cfs.chain([ColumnFamilyDescriptor::new(
            rocksdb::DEFAULT_COLUMN_FAMILY_NAME,
            default_cf,
        )]);
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Store { db: Arc::new(db) })
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(cf.name()).ok_or(StoreError::Corrupt {
            cf: cf.name(),
            reason: "column family missing".into(),
        })
    }

    /// Runs blocking reads on a blocking thread: every read from async code goes through
    /// here, so RocksDB never blocks an async worker.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// One record, if it exists.
    pub fn get<S: Schema>(&self, key: S::KeyRef<'_>) -> Result<Option<S::Value>, StoreError> {
        self.db
            .get_pinned_cf(self.handle(S::CF)?, S::encode_key(key))?
            .map(|v| S::decode_value(&v))
            .transpose()
    }

    /// Many records at once (one RocksDB call), in the order of `keys`.
    pub fn multi_get<'k, S: Schema>(
        &self,
        keys: impl IntoIterator<Item = S::KeyRef<'k>>,
    ) -> Result<Vec<Option<S::Value>>, StoreError> {
        let h = self.handle(S::CF)?;
        let keys: Vec<Vec<u8>> = keys.into_iter().map(S::encode_key).collect();
        self.db
            .multi_get_cf(keys.iter().map(|k| (h, k.as_slice())))
            .into_iter()
            .map(|r| r?.map(|v| S::decode_value(&v)).transpose())
            .collect()
    }

    /// Records in key order from `seek` (backwards for `Seek::Last` / `Seek::Back`).
    pub fn iter<S: Schema>(&self, seek: Seek<'_, S>) -> Result<Iter<'_, S>, StoreError> {
        let from = match &seek {
            Seek::First | Seek::Last => None,
            Seek::From(k) | Seek::Back(k) => Some(S::encode_key(*k)),
        };
        self.iter_bytes(seek.direction(), from, None)
    }

    /// The records of one key group (see [`PrefixSchema`]), from `seek` within it.
    pub fn iter_prefix<S: PrefixSchema>(
        &self,
        prefix: S::Prefix<'_>,
        seek: Seek<'_, S>,
    ) -> Result<Iter<'_, S>, StoreError> {
        let prefix = S::encode_prefix(prefix);
        let from = match &seek {
            Seek::First => prefix.clone(),
            // Past every key of the group: their suffixes never start with 0xFF bytes.
            Seek::Last => [prefix.as_slice(), &[0xFF; 32]].concat(),
            Seek::From(k) | Seek::Back(k) => S::encode_key(*k),
        };
        self.iter_bytes(seek.direction(), Some(from), Some(prefix))
    }

    fn iter_bytes<S: Schema>(
        &self,
        dir: Direction,
        from: Option<Vec<u8>>,
        prefix: Option<Vec<u8>>,
    ) -> Result<Iter<'_, S>, StoreError> {
        let h = self.handle(S::CF)?;
        let inner = match (&from, dir) {
            (Some(k), d) => self.db.iterator_cf(h, IteratorMode::From(k, d)),
            (None, Direction::Forward) => self.db.iterator_cf(h, IteratorMode::Start),
            (None, Direction::Reverse) => self.db.iterator_cf(h, IteratorMode::End),
        };
        Ok(Iter {
            inner,
            prefix,
            schema: PhantomData,
        })
    }

    /// The last key of a schema's column family, if any.
    pub fn last_key<S: Schema>(&self) -> Result<Option<S::Key>, StoreError> {
        let mut iter = self.db.iterator_cf(self.handle(S::CF)?, IteratorMode::End);
        match iter.next() {
            Some(item) => Ok(Some(S::decode_key(&item?.0)?)),
            None => Ok(None),
        }
    }

    /// RocksDB's estimate of the number of records of a schema's column family.
    pub fn estimate_keys<S: Schema>(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .property_int_value_cf(self.handle(S::CF)?, "rocksdb.estimate-num-keys")?
            .unwrap_or(0))
    }

    /// Total size of the SST and memtable data, for operators.
    pub fn approximate_size(&self) -> u64 {
        let prop = |name: &str| {
            Cf::ALL
                .iter()
                .filter_map(|cf| self.db.cf_handle(cf.name()))
                .filter_map(|h| self.db.property_int_value_cf(h, name).ok().flatten())
                .sum::<u64>()
        };
        prop("rocksdb.total-sst-files-size") + prop("rocksdb.cur-size-all-mem-tables")
    }

    /// Flushes memtables so a restart replays little WAL.
    pub fn flush(&self) -> Result<(), StoreError> {
        for cf in Cf::ALL {
            self.db.flush_cf(self.handle(*cf)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_limits_are_the_configs_defaults() {
        let c = crate::config::StorageConfig::default();
        let l = super::StoreLimits::default();
        assert_eq!(c.max_wal_bytes, l.max_wal_bytes);
        assert_eq!(c.max_memtable_bytes, l.max_memtable_bytes as u64);
    }
}

#[cfg(test)]
pub(crate) mod test_db {
    //! A store in a temporary directory that lives as long as the value, and the same
    //! with its writer thread running.
    use super::writer::Writer;

    pub struct TestDb {
        pub store: super::Store,
        _dir: tempfile::TempDir,
    }

    impl TestDb {
        pub fn new() -> TestDb {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = super::Store::open(dir.path()).expect("open store");
            TestDb { store, _dir: dir }
        }
    }

    /// A [`TestDb`] with its writer. Call [`TestStore::close`] at the end, once every
    /// other clone of the writer is gone: it closes the database before the test process
    /// exits (RocksDB aborts if the writer thread is still closing it then).
    pub struct TestStore {
        pub db: TestDb,
        pub writer: Writer,
        thread: std::thread::JoinHandle<()>,
    }

    impl TestStore {
        pub fn new() -> TestStore {
            let db = TestDb::new();
            let (writer, thread) = Writer::start(db.store.clone(), false);
            TestStore { db, writer, thread }
        }

        pub fn store(&self) -> &super::Store {
            &self.db.store
        }

        pub async fn close(self) {
            drop(self.writer);
            let thread = self.thread;
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("join")
                .expect("writer thread");
        }
    }
}
