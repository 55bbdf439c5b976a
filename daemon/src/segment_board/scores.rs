//! `SegmentBoard::scores`: the RFM cutoffs and the population's median interval,
//! computed from one scan of every row and reused until `rfm_refresh` has passed.

use std::sync::{Arc, Mutex, RwLock};

use super::SegmentBoard;
use crate::domain::segments::rfm::Cutoffs;
use crate::domain::segments::ScoreSource;
use crate::domain::Millis;

/// `[segment_settings] rfm_refresh`'s default (60 s).
pub const DEFAULT_RFM_REFRESH_MS: i64 = 60_000;

/// The last computed cutoffs and when they were computed.
pub(super) struct ScoreCache {
    refresh_ms: i64,
    last: RwLock<Option<(Millis, Arc<Cutoffs>)>>,
    /// Held during a recompute: concurrent refreshers wait for it instead of scanning too.
    computing: Mutex<()>,
}

impl Default for ScoreCache {
    fn default() -> Self {
        ScoreCache::new(DEFAULT_RFM_REFRESH_MS)
    }
}

impl ScoreCache {
    pub(super) fn new(refresh_ms: i64) -> ScoreCache {
        ScoreCache {
            refresh_ms: refresh_ms.max(1),
            last: RwLock::new(None),
            computing: Mutex::new(()),
        }
    }
}

impl SegmentBoard {
    /// Scores over the population as last computed, without waiting: the cached
    /// cutoffs even when older than `rfm_refresh` (a refresher calls
    /// [`SegmentBoard::cutoffs`] off the async threads); computed here only when there
    /// are none yet. For the customer actors' gate and `GetCustomer`.
    pub fn scores(&self, now_ms: Millis) -> Arc<dyn ScoreSource> {
        match self.cached() {
            Some((_, cutoffs)) => cutoffs,
            None => self.cutoffs(now_ms),
        }
    }

    fn cached(&self) -> Option<(Millis, Arc<Cutoffs>)> {
        match self.scores.last.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The cutoffs, recomputed from a scan of every row when older than
    /// `[segment_settings] rfm_refresh` (or when the clock went back). A recompute scans
    /// the whole board: from async code call it in `spawn_blocking`. Never call it
    /// inside `scan`.
    pub fn cutoffs(&self, now_ms: Millis) -> Arc<Cutoffs> {
        let fresh = |c: &Option<(Millis, Arc<Cutoffs>)>| match c {
            Some((at, cutoffs)) if now_ms >= *at && now_ms - *at < self.scores.refresh_ms => {
                Some(cutoffs.clone())
            }
            _ => None,
        };
        if let Some(c) = fresh(&self.cached()) {
            return c;
        }
        let _computing = match self.scores.computing.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = fresh(&self.cached()) {
            return c;
        }
        let cutoffs = Arc::new(self.scan(|rows| Cutoffs::of(rows)));
        match self.scores.last.write() {
            Ok(mut g) => *g = Some((now_ms, cutoffs.clone())),
            Err(poisoned) => *poisoned.into_inner() = Some((now_ms, cutoffs.clone())),
        }
        cutoffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::segments::{OrderPoint, Row};

    fn buyer(id: &str, at_ms: i64, amount_minor: i64) -> Row {
        Row {
            customer_id: id.to_owned(),
            orders: vec![OrderPoint {
                at_ms,
                amount_minor,
                coupon: false,
            }],
            ..Row::default()
        }
    }

    #[test]
    fn scores_are_cached_until_the_refresh_interval_passes() {
        let board = SegmentBoard::with_rfm_refresh(1_000);
        board.put(buyer("a", 10, 100));
        board.put(buyer("b", 20, 200));
        let first = board.scores(5_000);
        let b = board.get("b").expect("row");
        // Two buyers: b has one strictly worse → 1 + ⌊5/2⌋ = 3.
        assert_eq!(first.scores(&b, 5_000).monetary, 3);
        // A new, bigger buyer: not seen until the refresh.
        board.put(buyer("c", 30, 300));
        assert_eq!(board.scores(5_999).scores(&b, 5_999).monetary, 3);
        assert_eq!(board.cutoffs(5_999).buyers(), 2);
        // Past the interval `scores` still answers from the cache at once ...
        assert_eq!(board.scores(6_000).scores(&b, 6_000).monetary, 3);
        // ... until a refresher recomputes: 3 buyers, b has one worse → 1 + ⌊5/3⌋ = 2.
        assert_eq!(board.cutoffs(6_000).buyers(), 3);
        assert_eq!(board.scores(6_000).scores(&b, 6_000).monetary, 2);
        // The clock went back: recomputed.
        board.put(buyer("d", 40, 400));
        assert_eq!(board.cutoffs(100).buyers(), 4);
    }

    #[test]
    fn an_empty_board_scores_nothing() {
        let board = SegmentBoard::new();
        let row = buyer("x", 1, 1);
        let s = board.scores(0).scores(&row, 0);
        // Not in the population: n = 0 → scored against max(n, 1) with nobody worse.
        assert_eq!((s.recency, s.frequency, s.monetary), (1, 1, 1));
        assert_eq!(board.scores(0).scores(&Row::default(), 0).group, None);
    }
}
