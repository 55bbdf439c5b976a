//! The outbox against a real store: due scans, results, cancellations, pages, retries,
//! through the owner as the dispatcher and the APIs use it.

use super::changes::record_result;
use super::reads::{due, list, list_customer, load, scan_due};
use super::*;
use crate::delivery::test_support::{create_batch, sample_entry};
use crate::domain::message::{Lane, MessageClass};
use crate::store::test_db::TestStore;
use crate::store::Seek;

const POLICY: OutboxPolicy = OutboxPolicy {
    retry: RetryPolicy {
        base_ms: 1_000,
        max_ms: 60_000,
        max_attempts: 3,
    },
    transactional_max_age_ms: 3_600_000,
};
const MAIL: Lane = Lane::new(MessageClass::Marketing, Channel::Email);

struct Fixture {
    db: TestStore,
    owner: OutboxOwner,
}

impl Fixture {
    fn new() -> Fixture {
        let db = TestStore::new();
        let (owner, _) = OutboxOwner::start(db.store().clone(), db.writer.clone(), POLICY);
        Fixture { db, owner }
    }

    /// Closes the database before the process exits (RocksDB aborts otherwise).
    async fn close(self) {
        drop(self.owner);
        self.db.close().await;
    }

    async fn insert(&self, e: &OutboxEntry) {
        self.db
            .writer
            .write(create_batch(e), 0)
            .await
            .expect("write");
    }

    fn entry(&self, seq: u64) -> OutboxEntry {
        load(self.db.store(), seq).expect("read").expect("exists")
    }

    /// Every due key, in time order whatever its lane.
    fn due_keys(&self) -> Vec<(Millis, u64)> {
        let mut keys: Vec<(Millis, u64)> = self
            .db
            .store()
            .iter::<OutboxDue>(Seek::First)
            .expect("scan")
            .map(|row| row.map(|(d, ())| (d.at_ms, d.seq)).expect("row"))
            .collect();
        keys.sort_unstable();
        keys
    }
}

fn entry(seq: u64, channel: Channel, marketing: bool, next: Millis) -> OutboxEntry {
    let mut e = sample_entry(seq, channel, marketing);
    e.next_attempt_ms = next;
    e
}

#[tokio::test]
async fn due_returns_pending_entries_up_to_now_in_time_order() {
    let f = Fixture::new();
    f.insert(&entry(1, Channel::Email, true, 300)).await;
    f.insert(&entry(2, Channel::Email, true, 100)).await;
    f.insert(&entry(3, Channel::Email, true, 500)).await;
    let seqs = |v: Vec<OutboxEntry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(due(f.db.store(), 300, 10).expect("due")), [2, 1]);
    assert_eq!(seqs(due(f.db.store(), 1_000, 1).expect("due")), [2]);
    let scan = scan_due(f.db.store(), MAIL, 1_000, 2, |s| s != 2).expect("scan");
    assert_eq!(seqs(scan.entries), [1, 3]);
    // An index key whose entry is not Pending any more is reported, not returned.
    let mut done = entry(4, Channel::Email, true, 50);
    done.status = OutboxStatus::Delivered;
    f.insert(&done).await;
    let mut b = Batch::default();
    let stale = Due {
        lane: MAIL,
        at_ms: 50,
        seq: 4,
    };
    b.put::<OutboxDue>(stale, &());
    f.db.writer.write(b, 0).await.expect("write");
    let scan = scan_due(f.db.store(), MAIL, 1_000, 10, |_| true).expect("scan");
    assert_eq!(seqs(scan.entries), [2, 1, 3]);
    assert_eq!(scan.stale, vec![stale]);
    f.owner.remove_stale(scan.stale).await.expect("remove");
    assert_eq!(f.due_keys(), [(100, 2), (300, 1), (500, 3)]);
    f.close().await;
}

#[test]
fn results_move_the_entry_along() {
    let e = entry(7, Channel::Email, true, 100);
    let due = |at_ms, seq| {
        Some(Due {
            lane: MAIL,
            at_ms,
            seq,
        })
    };
    let d = record_result(&e, &Ok(()), 150, &POLICY, 0);
    assert_eq!(
        (d.entry.status, d.entry.delivered_ms),
        (OutboxStatus::Delivered, Some(150))
    );
    assert_eq!((d.was_due, d.due), (due(100, 7), None));

    let t = record_result(
        &e,
        &Err(SendError::Transient("452 mailbox full".into())),
        150,
        &POLICY,
        0,
    );
    assert_eq!(
        (t.entry.status, t.entry.attempts),
        (OutboxStatus::Pending, 1)
    );
    assert_eq!(
        t.entry.next_attempt_ms,
        150 + POLICY.retry.base_ms,
        "draw 0: the floor"
    );
    assert_eq!(t.entry.last_error.as_deref(), Some("452 mailbox full"));
    assert_eq!(t.due, due(t.entry.next_attempt_ms, 7));

    let t2 = record_result(
        &t.entry,
        &Err(SendError::Transient("452 mailbox full".into())),
        2_000,
        &POLICY,
        u64::MAX,
    );
    assert_eq!(t2.entry.status, OutboxStatus::Pending);
    assert_eq!(
        t2.entry.next_attempt_ms,
        2_000 + 4 * POLICY.retry.base_ms,
        "draw u64::MAX, second failure: the ceiling"
    );
    let t3 = record_result(
        &t2.entry,
        &Err(SendError::Transient("452 mailbox full".into())),
        9_000,
        &POLICY,
        0,
    );
    assert_eq!(
        (t3.entry.status, t3.entry.attempts),
        (OutboxStatus::Failed, 3)
    );
    assert_eq!(t3.due, None, "a failed entry is not due again");

    let p = record_result(
        &e,
        &Err(SendError::Permanent("550".into())),
        150,
        &POLICY,
        0,
    );
    assert_eq!(
        (p.entry.status, p.entry.attempts),
        (OutboxStatus::Failed, 1)
    );

    // Delivered after a failed attempt: the old error does not stay on the entry.
    let late = record_result(&t.entry, &Ok(()), 5_000, &POLICY, 0);
    assert_eq!(late.entry.status, OutboxStatus::Delivered);
    assert_eq!(late.entry.last_error, None);
}

#[tokio::test]
async fn the_same_failure_is_retried_at_different_times_in_different_runs() {
    // Regression: the jitter came from (seq, attempts) alone, so every run retried entry
    // 1's first failure at the same moment. Each fixture stands for a run.
    let mut retries = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let f = Fixture::new();
        f.insert(&entry(1, Channel::Email, false, 0)).await;
        let failed = Err(SendError::Transient("421".into()));
        let e = f.owner.record(1, failed, 10).await;
        let e = e.expect("commit").expect("recorded");
        assert!(
            (10 + POLICY.retry.base_ms..=10 + 2 * POLICY.retry.base_ms)
                .contains(&e.next_attempt_ms),
            "{}",
            e.next_attempt_ms
        );
        retries.insert(e.next_attempt_ms);
        f.close().await;
    }
    assert!(retries.len() > 1, "four runs, one retry time: {retries:?}");
}

#[tokio::test]
async fn commit_result_respects_a_cancellation_in_flight() {
    let f = Fixture::new();
    f.insert(&entry(1, Channel::Email, true, 0)).await;
    f.insert(&entry(2, Channel::Email, true, 0)).await;
    assert_eq!(
        f.owner
            .cancel_marketing("cust-42".into(), None)
            .await
            .expect("cancel"),
        2
    );
    let failed = Err(SendError::Transient("timeout".into()));
    let r = f.owner.record(1, failed, 10).await;
    assert!(r.expect("commit").is_none());
    assert_eq!(f.entry(1).status, OutboxStatus::Cancelled);
    assert!(f.due_keys().is_empty(), "a failure must not reschedule it");
    // It went out anyway: that is recorded.
    let r = f.owner.record(2, Ok(()), 10).await;
    assert_eq!(
        r.expect("commit").map(|e| e.status),
        Some(OutboxStatus::Delivered)
    );
    f.close().await;
}

#[tokio::test]
async fn cancel_marketing_touches_only_pending_marketing_of_that_customer() {
    let f = Fixture::new();
    f.insert(&entry(1, Channel::Email, true, 0)).await;
    f.insert(&entry(2, Channel::Email, false, 0)).await;
    f.insert(&entry(3, Channel::Line, true, 0)).await;
    let mut other = entry(4, Channel::Email, true, 0);
    other.customer_id = "cust-420".into();
    f.insert(&other).await;
    let mut delivered = entry(5, Channel::Email, true, 0);
    delivered.status = OutboxStatus::Delivered;
    f.insert(&delivered).await;

    let n = f
        .owner
        .cancel_marketing("cust-42".into(), Some(Channel::Email))
        .await
        .expect("cancel");
    assert_eq!(n, 1);
    let status = |s| f.entry(s).status;
    assert_eq!(status(1), OutboxStatus::Cancelled);
    for s in [2, 3, 4] {
        assert_eq!(status(s), OutboxStatus::Pending, "seq {s}");
    }
    assert_eq!(status(5), OutboxStatus::Delivered);
    assert_eq!(f.due_keys(), [(0, 2), (0, 3), (0, 4)]);
    let n = f
        .owner
        .cancel_marketing("cust-42".into(), None)
        .await
        .expect("cancel");
    assert_eq!((n, status(3)), (1, OutboxStatus::Cancelled));
    f.close().await;
}

#[tokio::test]
async fn list_pages_newest_first_with_a_filter() {
    let f = Fixture::new();
    for seq in 1..=600u64 {
        let mut e = entry(seq, Channel::Webhook, false, 0);
        if seq % 3 == 0 {
            e.status = OutboxStatus::Failed;
        }
        f.insert(&e).await;
    }
    let page = list(f.db.store(), None, 5, None).expect("list");
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(
        (seqs, page.next_before),
        (vec![600, 599, 598, 597, 596], Some(596))
    );

    let mut all_failed = Vec::new();
    let mut before = None;
    loop {
        let page = list(f.db.store(), Some(OutboxStatus::Failed), 70, before).expect("list");
        all_failed.extend(page.entries.iter().map(|e| e.seq));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=600).rev().filter(|s| s % 3 == 0).collect();
    assert_eq!(all_failed, expected);
    assert!(list(f.db.store(), None, 5, Some(1))
        .expect("list")
        .entries
        .is_empty());
    f.close().await;
}

#[tokio::test]
async fn retry_makes_failed_entries_due_now() {
    let f = Fixture::new();
    let mut e = entry(9, Channel::Email, false, 100);
    e.status = OutboxStatus::Failed;
    e.attempts = 5;
    f.insert(&e).await;
    let (_, r) = f.owner.retry(9, 777).await.expect("retry");
    assert_eq!(
        (r.status, r.attempts, r.next_attempt_ms),
        (OutboxStatus::Pending, 0, 777)
    );
    assert_eq!(f.due_keys(), [(777, 9)]);
    // A Pending entry moves to now, leaving no old key behind.
    f.owner.retry(9, 800).await.expect("retry");
    assert_eq!(f.due_keys(), [(800, 9)]);
    assert!(matches!(
        f.owner.retry(10, 0).await,
        Err(OutboxError::NotFound(10))
    ));
    let mut d = entry(11, Channel::Email, false, 0);
    d.status = OutboxStatus::Delivered;
    f.insert(&d).await;
    let err = f.owner.retry(11, 0).await.expect_err("delivered");
    assert!(err.to_string().contains("Delivered"), "{err}");
    f.close().await;
}

#[tokio::test]
async fn list_customer_uses_the_index() {
    let f = Fixture::new();
    for seq in 1..=300u64 {
        let mut e = entry(seq, Channel::Email, false, 0);
        if seq % 2 == 0 {
            e.customer_id = "cust-7".into();
        }
        f.insert(&e).await;
    }
    let mut got = Vec::new();
    let mut before = None;
    loop {
        let page = list_customer(f.db.store(), "cust-7", None, 40, before).expect("list");
        got.extend(page.entries.iter().map(|e| e.seq));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=300).rev().filter(|s| s % 2 == 0).collect();
    assert_eq!(got, expected);
    let none = list_customer(f.db.store(), "cust-7", Some(OutboxStatus::Failed), 10, None);
    assert!(none.expect("list").entries.is_empty());
    f.close().await;
}

/// Two changes to one entry in one group apply in arrival order: a cancel queued after a
/// failed attempt sees the rescheduled entry and removes its new due key.
#[tokio::test]
async fn changes_to_one_entry_apply_in_order() {
    let f = Fixture::new();
    f.insert(&entry(1, Channel::Email, true, 0)).await;
    let failed = f
        .owner
        .record(1, Err(SendError::Transient("busy".into())), 10);
    let cancelled = f.owner.cancel(1, "unsubscribed".into());
    let (r, c) = tokio::join!(failed, cancelled);
    let rescheduled = r.expect("record").expect("recorded");
    assert_eq!(rescheduled.status, OutboxStatus::Pending);
    let c = c.expect("cancel").expect("was pending");
    assert_eq!(c.status, OutboxStatus::Cancelled);
    assert_eq!(c.attempts, 1, "the cancel saw the recorded attempt");
    assert!(f.due_keys().is_empty(), "{:?}", f.due_keys());
    f.close().await;
}

/// A send that found the channel down is not charged: the entry keeps its attempts and
/// its due time; only `last_error` says why it waits.
#[test]
fn a_channel_outage_is_not_charged_to_the_entry() {
    let mut e = entry(7, Channel::Email, true, 100);
    e.attempts = 2;
    let down = Err(SendError::ChannelDown("SMTP: connection refused".into()));
    let d = record_result(&e, &down, 5_000, &POLICY, 0);
    assert_eq!(
        (d.entry.status, d.entry.attempts, d.entry.next_attempt_ms),
        (OutboxStatus::Pending, 2, 100)
    );
    assert_eq!(
        d.entry.last_error.as_deref(),
        Some("SMTP: connection refused")
    );
    assert_eq!(d.was_due, d.due, "its due key stays");
    // However long the outage: marketing waits (its scenario's max_age drops it later).
    let d = record_result(&e, &down, 100 * 86_400_000, &POLICY, 0);
    assert_eq!(d.entry.status, OutboxStatus::Pending);
}

/// Transactional entries retry until they are `transactional_max_age_ms` old, whatever
/// `max_attempts` says, and then fail saying why.
#[test]
fn transactional_entries_retry_until_their_max_age() {
    let mut e = entry(8, Channel::Email, false, 0);
    e.created_ms = 0;
    let busy = Err(SendError::Transient("452 mailbox full".into()));
    let mut now = 1_000;
    for _ in 0..10 {
        let d = record_result(&e, &busy, now, &POLICY, 0);
        assert_eq!(d.entry.status, OutboxStatus::Pending, "{:?}", d.entry);
        e = d.entry;
        now = e.next_attempt_ms;
    }
    assert_eq!(e.attempts, 10, "past max_attempts (3)");
    let d = record_result(&e, &busy, POLICY.transactional_max_age_ms, &POLICY, 0);
    assert_eq!(d.entry.status, OutboxStatus::Failed);
    let why = d.entry.last_error.unwrap_or_default();
    assert!(
        why.contains("452") && why.contains("transactional_max_age"),
        "{why}"
    );
    // A channel outage past the max age fails it too; a refusal fails it at once.
    let down = Err(SendError::ChannelDown("refused".into()));
    let d = record_result(&e, &down, POLICY.transactional_max_age_ms, &POLICY, 0);
    assert_eq!(
        (d.entry.status, d.entry.attempts),
        (OutboxStatus::Failed, 10)
    );
    let refused = Err(SendError::Permanent("550".into()));
    let d = record_result(&e, &refused, 2_000, &POLICY, 0);
    assert_eq!(d.entry.status, OutboxStatus::Failed);
}

/// Due keys written before lanes are moved into their lanes at start; keys of entries
/// that are no longer Pending (or due at another time) are dropped.
#[tokio::test]
async fn due_keys_from_before_lanes_move_into_their_lanes() {
    use crate::store::outbox::{LegacyDue, LegacyOutboxDue};
    // No OutboxOwner here: its task migrates at start and would race this test's own
    // `migrate` for the keys written below.
    let db = TestStore::new();
    let mut b = Batch::default();
    let mut entries = vec![
        entry(1, Channel::Email, true, 100),
        entry(2, Channel::Webhook, false, 200),
        entry(3, Channel::Email, true, 300),
    ];
    entries[2].status = OutboxStatus::Delivered;
    for e in &entries {
        b.put::<Outbox>(e.seq, e);
        let old = LegacyDue {
            at_ms: e.next_attempt_ms,
            seq: e.seq,
        };
        b.put::<LegacyOutboxDue>(old, &());
    }
    db.writer.write(b, 0).await.expect("write");
    assert!(due(db.store(), 1_000, 10).expect("due").is_empty());
    assert_eq!(migrate(db.store(), &db.writer).await.expect("migrate"), 2);
    let seqs: Vec<u64> = due(db.store(), 1_000, 10)
        .expect("due")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [2, 1], "transactional lanes first");
    assert!(super::reads::legacy_due(db.store(), 10)
        .expect("legacy")
        .is_empty());
    assert_eq!(migrate(db.store(), &db.writer).await.expect("again"), 0);
    db.close().await;
}

/// Each lane is read alone: a lane full of due entries does not hide another's.
#[tokio::test]
async fn lanes_are_scanned_apart() {
    let f = Fixture::new();
    for seq in 1..=5 {
        f.insert(&entry(seq, Channel::Email, true, seq as i64))
            .await;
    }
    f.insert(&entry(9, Channel::Webhook, true, 50)).await;
    let hook = Lane::new(MessageClass::Marketing, Channel::Webhook);
    let scan = scan_due(f.db.store(), MAIL, 1_000, 2, |_| true).expect("scan");
    assert_eq!(
        scan.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    let scan = scan_due(f.db.store(), hook, 1_000, 2, |_| true).expect("scan");
    assert_eq!(scan.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [9]);
    assert_eq!(
        super::reads::count_due(f.db.store(), 1_000, 100).expect("count"),
        6
    );
    assert_eq!(
        super::reads::count_due(f.db.store(), 3, 100).expect("count"),
        3
    );
    f.close().await;
}
