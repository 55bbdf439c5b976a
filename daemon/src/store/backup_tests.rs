use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;
use crate::store::records::ProducerRecord;
use crate::store::test_db::TestDb;

/// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
const SHA_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn put_producer(store: &Store, id: &str, seq: u64) {
    let db = store.db();
    let cf = db.cf_handle(Cf::Producers.name()).expect("cf");
    let rec = ProducerRecord {
        last_sequence: seq,
        ..ProducerRecord::default()
    };
    db.put_cf(cf, id.as_bytes(), Producers::encode_value(&rec))
        .expect("put");
}

/// A store with two producers, backed up into `<tmp>/b`.
fn backed_up() -> (TestDb, tempfile::TempDir, PathBuf, Manifest) {
    let db = TestDb::new();
    put_producer(&db.store, "shop-a", 7);
    put_producer(&db.store, "shop-b", 300);
    let out = tempfile::tempdir().expect("tmp");
    let dir = out.path().join("b");
    let m = create(&db.store, &dir, 1_700_000_000_000, "9.9.9").expect("backup");
    (db, out, dir, m)
}

#[test]
fn sha256_of_a_known_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("abc");
    fs::write(&p, b"abc").expect("write");
    assert_eq!(hash_file(&p).expect("hash"), (3, SHA_ABC.to_string()));
}

#[test]
fn manifest_round_trip() {
    let dir = tempfile::tempdir().expect("tmp");
    let m = Manifest {
        format_version: FORMAT_VERSION,
        stockbelld_version: "0.1.0".into(),
        taken_ms: 42,
        files: vec![FileEntry {
            path: "000008.sst".into(),
            size: 3,
            sha256: SHA_ABC.into(),
        }],
        producers: vec![ProducerSequence {
            producer_id: "shop".into(),
            sequence: 12,
        }],
    };
    write_manifest(dir.path(), &m).expect("write");
    assert!(!dir.path().join(manifest_tmp_name()).exists());
    assert_eq!(read_manifest(dir.path()).expect("read"), m);
    let json = fs::read_to_string(dir.path().join(MANIFEST)).expect("json");
    assert!(json.contains("\"format_version\": 1"), "{json}");
    assert!(json.contains("\"sequence\": 12"), "{json}");
}

#[test]
fn a_manifest_path_may_not_leave_the_backup() {
    let dir = tempfile::tempdir().expect("tmp");
    let m = Manifest {
        format_version: FORMAT_VERSION,
        stockbelld_version: "0.1.0".into(),
        taken_ms: 1,
        files: vec![FileEntry {
            path: "../etc/passwd".into(),
            size: 1,
            sha256: SHA_ABC.into(),
        }],
        producers: vec![],
    };
    write_manifest(dir.path(), &m).expect("write");
    let e = read_manifest(dir.path()).expect_err("refused");
    assert!(e.to_string().contains("leaves the backup directory"), "{e}");
}

#[test]
fn a_backup_holds_the_producers_and_verifies() {
    let (_db, _out, dir, m) = backed_up();
    assert_eq!(
        m.producers,
        vec![
            ProducerSequence {
                producer_id: "shop-a".into(),
                sequence: 7
            },
            ProducerSequence {
                producer_id: "shop-b".into(),
                sequence: 300
            },
        ]
    );
    assert_eq!(
        (m.taken_ms, m.stockbelld_version.as_str()),
        (1_700_000_000_000, "9.9.9")
    );
    assert!(m.files.iter().any(|f| f.path == "CURRENT"), "{:?}", m.files);
    assert!(!m.files.iter().any(|f| f.path == MANIFEST));
    let on_disk = verify(&dir).expect("verifies");
    assert_eq!(on_disk, m);
    assert_eq!(producers_in(&dir).expect("read again"), m.producers);
}

#[test]
fn verify_detects_a_missing_manifest() {
    let (_db, _out, dir, _m) = backed_up();
    fs::remove_file(dir.join(MANIFEST)).expect("rm");
    assert!(matches!(verify(&dir), Err(VerifyError::NoManifest { .. })));
}

#[test]
fn verify_detects_a_missing_file() {
    let (_db, _out, dir, _m) = backed_up();
    fs::remove_file(dir.join("CURRENT")).expect("rm");
    match verify(&dir) {
        Err(VerifyError::Missing { path }) => assert!(path.ends_with("CURRENT")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn verify_detects_a_truncated_file() {
    let (_db, _out, dir, m) = backed_up();
    let f = m.files.iter().max_by_key(|f| f.size).expect("a file");
    let path = dir.join(&f.path);
    let bytes = fs::read(&path).expect("read");
    fs::remove_file(&path).expect("unlink (it may be a hard link)");
    fs::write(&path, &bytes[..bytes.len() - 1]).expect("truncate");
    match verify(&dir) {
        Err(VerifyError::Size { size, expected, .. }) => {
            assert_eq!((size, expected), (f.size - 1, f.size))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn verify_detects_a_changed_byte() {
    let (_db, _out, dir, m) = backed_up();
    let f = m.files.iter().max_by_key(|f| f.size).expect("a file");
    let path = dir.join(&f.path);
    let mut bytes = fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::remove_file(&path).expect("unlink (it may be a hard link)");
    fs::write(&path, &bytes).expect("write");
    match verify(&dir) {
        Err(VerifyError::Checksum { path: p }) => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn verify_detects_an_extra_file() {
    let (_db, _out, dir, _m) = backed_up();
    fs::write(dir.join("000999.log"), b"replayed if restored").expect("write");
    assert!(matches!(verify(&dir), Err(VerifyError::Extra { .. })));
}

#[test]
fn the_target_must_be_new_absolute_and_in_a_writable_parent() {
    let db = TestDb::new();
    let out = tempfile::tempdir().expect("tmp");
    let e = create(&db.store, Path::new("rel/b"), 1, "v").expect_err("relative");
    assert!(matches!(e, BackupError::Invalid(_)), "{e}");
    let e = create(&db.store, Path::new(""), 1, "v").expect_err("empty");
    assert!(matches!(e, BackupError::Invalid(_)), "{e}");
    let e = create(&db.store, out.path(), 1, "v").expect_err("exists");
    assert!(e.to_string().contains("already exists"), "{e}");
    assert!(matches!(e, BackupError::Precondition(_)));
    let e = create(&db.store, &out.path().join("no/b"), 1, "v").expect_err("no parent");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(!out.path().join("no").exists());
    // The existing directory was left alone.
    assert!(out.path().is_dir());
}

#[test]
fn the_checkpoint_is_consistent_while_writes_go_on() {
    let db = TestDb::new();
    let store = db.store.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // One atomic batch: the producer's sequence and a record carrying it.
                let d = store.db();
                let mut b = rocksdb::WriteBatch::default();
                let rec = ProducerRecord {
                    last_sequence: n,
                    ..ProducerRecord::default()
                };
                b.put_cf(
                    d.cf_handle(Cf::Producers.name()).expect("cf"),
                    b"p",
                    Producers::encode_value(&rec),
                );
                b.put_cf(
                    d.cf_handle(Cf::Meta.name()).expect("cf"),
                    b"mark",
                    n.to_be_bytes(),
                );
                d.write(b).expect("write");
            }
            n
        })
    };
    while store.get::<Producers>("p").expect("get").is_none() {
        std::thread::yield_now();
    }
    let out = tempfile::tempdir().expect("tmp");
    let dir = out.path().join("b");
    let m = create(&store, &dir, 1, "v").expect("backup");
    stop.store(true, Ordering::Relaxed);
    let last = writer.join().expect("writer");
    let seq = m.producers[0].sequence;
    assert!((1..=last).contains(&seq), "{seq} of {last}");
    let ro = rocksdb::DB::open_cf_for_read_only(
        &rocksdb::Options::default(),
        &dir,
        [Cf::Meta.name()],
        false,
    )
    .expect("open");
    let mark = ro
        .get_cf(ro.cf_handle(Cf::Meta.name()).expect("cf"), b"mark")
        .expect("get")
        .expect("present");
    assert_eq!(mark.as_slice(), seq.to_be_bytes());
}

#[test]
fn restore_copies_a_verified_backup_and_refuses_what_it_must() {
    let (_db, out, dir, m) = backed_up();
    let target = out.path().join("data");
    let r = restore(&dir, &target, false, 5).expect("restore into a new dir");
    assert_eq!(r.manifest, m);
    assert!(r.replaced.is_none());
    assert!(!target.join(MANIFEST).exists());
    {
        let s = Store::open(&target).expect("open restored");
        let p = s.get::<Producers>("shop-b").expect("get").expect("present");
        assert_eq!(p.last_sequence, 300);
    }
    // Non-empty without --force: refused, untouched.
    let e = restore(&dir, &target, false, 6).expect_err("non-empty");
    assert!(e.contains("--force"), "{e}");
    // Held by an open store (as a running daemon would): refused even with --force.
    {
        let _held = Store::open(&target).expect("open");
        let e = restore(&dir, &target, true, 7).expect_err("locked");
        assert!(e.contains("in use"), "{e}");
    }
    // --force keeps the old directory aside.
    let r = restore(&dir, &target, true, 8).expect("forced");
    let aside = out.path().join("data.replaced-8");
    assert_eq!(r.replaced.as_deref(), Some(aside.as_path()));
    assert!(aside.join("CURRENT").exists());
    // A tampered backup: refused before anything is copied.
    fs::write(dir.join("CURRENT"), b"MANIFEST-999999\n").expect("tamper");
    let fresh = out.path().join("fresh");
    let e = restore(&dir, &fresh, false, 9).expect_err("tampered");
    assert!(e.contains("CURRENT"), "{e}");
    assert!(!fresh.exists());
    let leftovers: Vec<_> = fs::read_dir(out.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".restore-"))
        .collect();
    assert!(leftovers.is_empty());
}
