//! RocksDB storage: column families, typed schemas (`schema.rs`), the group-commit
//! writer (`writer.rs`) through which every write goes, and whether the store takes
//! writes (`health.rs`). Opening sets the bounds on what lives outside SST files: the
//! write-ahead log and the memtables (`StoreLimits`).

pub mod codec;
pub mod health;
pub mod interest;
pub mod outbox;
pub mod schema;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options, DB,
};

pub use schema::Cf;

/// A raw key and value as read from RocksDB.
pub type KeyValue = (Box<[u8]>, Box<[u8]>);

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

    /// Point read of a raw value.
    pub fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.handle(cf)?, key)?)
    }

    /// Many point reads at once (one RocksDB call).
    pub fn multi_get_raw(
        &self,
        cf: Cf,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let h = self.handle(cf)?;
        self.db
            .multi_get_cf(keys.iter().map(|k| (h, k.as_slice())))
            .into_iter()
            .map(|r| r.map_err(StoreError::from))
            .collect()
    }

    /// Up to `limit` (key, value) pairs starting at `from`, forwards or backwards,
    /// while `keep(key)` holds.
    pub fn scan_raw(
        &self,
        cf: Cf,
        from: &[u8],
        forward: bool,
        limit: usize,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let dir = if forward {
            Direction::Forward
        } else {
            Direction::Reverse
        };
        let iter = self
            .db
            .iterator_cf(self.handle(cf)?, IteratorMode::From(from, dir));
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            if !keep(&k) || out.len() >= limit {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    /// Visits (key, value) pairs from `from` forwards until `visit` returns false or the
    /// column family ends, without collecting them; returns how many were visited. For
    /// long operator scans (reach estimates, searches) on a blocking thread.
    pub fn visit_raw(
        &self,
        cf: Cf,
        from: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<u64, StoreError> {
        let iter = self.db.iterator_cf(
            self.handle(cf)?,
            IteratorMode::From(from, Direction::Forward),
        );
        let mut n = 0;
        for item in iter {
            let (k, v) = item?;
            n += 1;
            if !visit(&k, &v)? {
                break;
            }
        }
        Ok(n)
    }

    /// RocksDB's estimate of the number of keys in a column family.
    pub fn estimate_keys(&self, cf: Cf) -> Result<u64, StoreError> {
        Ok(self
            .db
            .property_int_value_cf(self.handle(cf)?, "rocksdb.estimate-num-keys")?
            .unwrap_or(0))
    }

    /// The last key of a column family, if any.
    pub fn last_key(&self, cf: Cf) -> Result<Option<Box<[u8]>>, StoreError> {
        let mut iter = self.db.iterator_cf(self.handle(cf)?, IteratorMode::End);
        match iter.next() {
            Some(item) => Ok(Some(item?.0)),
            None => Ok(None),
        }
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
    //! A store in a temporary directory that lives as long as the value.
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
}
