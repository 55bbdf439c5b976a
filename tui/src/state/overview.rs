//! The live overview: the latest `Overview` from the stream, a ~2 minute history of its
//! rates for the sparklines, and scenario counters polled from daemons without the stream.

use std::collections::VecDeque;

use stockbell_proto::v1 as pb;

/// One point of the rate history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub events: f64,
    pub triggers: f64,
    pub sent: f64,
    pub failed: f64,
}

/// Which rate a sparkline draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Events,
    Triggers,
    Sent,
}

impl Series {
    pub fn of(self, s: &Sample) -> f64 {
        match self {
            Series::Events => s.events,
            Series::Triggers => s.triggers,
            Series::Sent => s.sent,
        }
    }
}

#[derive(Debug, Default)]
pub struct OverviewState {
    pub latest: Option<pb::Overview>,
    /// Oldest first, at most [`OverviewState::WINDOW_MS`] back from the newest.
    pub history: VecDeque<Sample>,
    /// Scenario counters from `GetScenarioStats` (daemons without `WatchOverview`).
    pub polled: Vec<pb::ScenarioStats>,
    pub polled_at_ms: i64,
}

impl OverviewState {
    /// How much rate history the sparklines keep.
    pub const WINDOW_MS: i64 = 120_000;
    const MAX_SAMPLES: usize = 600;

    pub fn push(&mut self, ov: pb::Overview) {
        let rates = ov.rates.unwrap_or_default();
        let at_ms = ov.at_ms;
        // A daemon restart (or a clock step) can move time backwards: start over.
        if self.history.back().is_some_and(|s| s.at_ms > at_ms) {
            self.history.clear();
        }
        self.history.push_back(Sample {
            at_ms,
            events: rates.events,
            triggers: rates.triggers,
            sent: rates.sent,
            failed: rates.failed,
        });
        while self.history.len() > Self::MAX_SAMPLES
            || self
                .history
                .front()
                .is_some_and(|s| s.at_ms < at_ms - Self::WINDOW_MS)
        {
            self.history.pop_front();
        }
        self.latest = Some(ov);
    }

    pub fn set_polled(&mut self, stats: Vec<pb::ScenarioStats>, now_ms: i64) {
        self.polled = stats;
        self.polled_at_ms = now_ms;
    }

    /// Per-scenario counters from whichever source is fresher.
    pub fn scenario_stats(&self) -> &[pb::ScenarioStats] {
        match &self.latest {
            Some(ov) if ov.at_ms >= self.polled_at_ms => &ov.scenarios,
            _ => &self.polled,
        }
    }

    /// Suppressions by reason over every scenario, largest first (ties by name).
    pub fn suppression_totals(&self) -> Vec<(&str, u64)> {
        let mut totals: Vec<(&str, u64)> = Vec::new();
        for s in self.scenario_stats() {
            for c in &s.suppressed {
                match totals.iter_mut().find(|(r, _)| *r == c.reason) {
                    Some((_, n)) => *n += c.count,
                    None => totals.push((&c.reason, c.count)),
                }
            }
        }
        totals.retain(|(_, n)| *n > 0);
        totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        totals
    }

    /// The last `n` points of a series, scaled to integers for a sparkline (×100 keeps
    /// fractional rates visible), padded with gaps on the left so the newest point is
    /// always at the right edge.
    pub fn series(&self, which: Series, n: usize) -> Vec<Option<u64>> {
        let skip = self.history.len().saturating_sub(n);
        let pad = n.saturating_sub(self.history.len());
        std::iter::repeat_n(None, pad)
            .chain(
                self.history
                    .iter()
                    .skip(skip)
                    .map(|s| Some((which.of(s).max(0.0) * 100.0).round() as u64)),
            )
            .collect()
    }

    /// The highest rate of a series over the history.
    pub fn peak(&self, which: Series) -> f64 {
        self.history.iter().map(|s| which.of(s)).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov(at_ms: i64, events: f64) -> pb::Overview {
        pb::Overview {
            at_ms,
            rates: Some(pb::Rates {
                events,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn history_keeps_two_minutes() {
        let mut s = OverviewState::default();
        for i in 0..200 {
            s.push(ov(i * 1000, i as f64));
        }
        assert_eq!(s.history.len(), 121);
        assert_eq!(s.history.front().map(|x| x.at_ms), Some(79_000));
        assert_eq!(
            s.series(Series::Events, 2),
            vec![Some(19_800), Some(19_900)]
        );
        assert_eq!(s.peak(Series::Events), 199.0);
        // Time going backwards (a restarted daemon) starts a new history.
        s.push(ov(5, 1.0));
        assert_eq!(s.history.len(), 1);
        assert_eq!(s.series(Series::Events, 3), vec![None, None, Some(100)]);
    }

    #[test]
    fn suppressions_add_up_over_scenarios() {
        let sc = |name: &str, reasons: &[(&str, u64)]| pb::ScenarioStats {
            scenario: name.into(),
            suppressed: reasons
                .iter()
                .map(|(r, n)| pb::SuppressionCount {
                    reason: (*r).into(),
                    count: *n,
                })
                .collect(),
            ..Default::default()
        };
        let mut s = OverviewState::default();
        s.set_polled(
            vec![
                sc("a", &[("cap", 3), ("dedupe", 1), ("consent", 0)]),
                sc("b", &[("dedupe", 4), ("cap", 1)]),
            ],
            1,
        );
        assert_eq!(s.suppression_totals(), vec![("dedupe", 5), ("cap", 4)]);
    }
}
