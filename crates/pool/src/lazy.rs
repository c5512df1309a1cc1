//! dnsdist's lazy health checks (`healthCheckMode="lazy"`): no check
//! queries while the backend's real answers look fine; checks start when
//! too many recent queries failed, and stop again once it recovers. Saves
//! backends that serve millions of queries from rampart's check traffic.

use std::collections::VecDeque;

/// What counts as a failed query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LazyFailures {
    TimeoutOnly,
    TimeoutOrServFail,
}

/// The `lazyHealthCheck*` settings of `newServer`, with dnsdist's defaults.
#[derive(Clone, Debug)]
pub struct LazyCheck {
    /// How many recent queries are looked at.
    pub sample_size: usize,
    /// No verdict from fewer than this many.
    pub min_samples: usize,
    /// Failed share (percent) that starts the checks.
    pub threshold_pct: usize,
    pub failures: LazyFailures,
    /// Between checks while the backend is down, ms.
    pub failed_interval_ms: u64,
    /// Double that interval after each failed check, up to `max_backoff_ms`.
    pub backoff: bool,
    pub max_backoff_ms: u64,
}

impl Default for LazyCheck {
    fn default() -> Self {
        LazyCheck {
            sample_size: 100,
            min_samples: 1,
            threshold_pct: 20,
            failures: LazyFailures::TimeoutOrServFail,
            failed_interval_ms: 30_000,
            backoff: false,
            max_backoff_ms: 3_600_000,
        }
    }
}

impl LazyCheck {
    /// The pause before the next check of a backend that is down after
    /// `failed_checks` failed checks.
    pub fn down_interval_ms(&self, failed_checks: u32) -> u64 {
        if !self.backoff {
            return self.failed_interval_ms;
        }
        let doublings = failed_checks.saturating_sub(1).min(30);
        self.failed_interval_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_backoff_ms.max(self.failed_interval_ms))
    }
}

/// The recent outcomes of real queries, and whether they call for checks.
#[derive(Debug, Default)]
pub struct LazyWindow {
    /// true: failed.
    outcomes: VecDeque<bool>,
    failed: usize,
    /// Too many failures: health checks run until the backend recovers.
    pub suspect: bool,
}

impl LazyWindow {
    /// Records one query; true when this one made the backend suspect.
    pub fn record(&mut self, settings: &LazyCheck, failed: bool) -> bool {
        self.outcomes.push_back(failed);
        self.failed += usize::from(failed);
        while self.outcomes.len() > settings.sample_size.max(1) {
            if self.outcomes.pop_front() == Some(true) {
                self.failed -= 1;
            }
        }
        let n = self.outcomes.len();
        if !self.suspect
            && n >= settings.min_samples
            && self.failed * 100 >= settings.threshold_pct * n
        {
            self.suspect = true;
            return true;
        }
        false
    }

    /// The checks found it healthy: start afresh.
    pub fn clear(&mut self) {
        self.outcomes.clear();
        self.failed = 0;
        self.suspect = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspect_once_the_failed_share_reaches_the_threshold() {
        let s = LazyCheck {
            sample_size: 10,
            min_samples: 5,
            threshold_pct: 30,
            ..LazyCheck::default()
        };
        let mut w = LazyWindow::default();
        // Failures before the minimum sample count decide nothing.
        for _ in 0..4 {
            assert!(!w.record(&s, true));
        }
        assert!(w.record(&s, false), "4 of 5 failed");
        assert!(w.suspect);
        w.clear();
        // 2 failures in 10 stay under 30%; old samples roll out.
        for i in 0..20 {
            assert!(!w.record(&s, i % 5 == 4), "sample {i}");
        }
        assert!(w.record(&s, true), "3 of the last 10");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = LazyCheck {
            failed_interval_ms: 1000,
            backoff: true,
            max_backoff_ms: 5000,
            ..LazyCheck::default()
        };
        let got: Vec<u64> = (1..=5).map(|n| s.down_interval_ms(n)).collect();
        assert_eq!(got, [1000, 2000, 4000, 5000, 5000]);
        let flat = LazyCheck {
            failed_interval_ms: 1000,
            ..LazyCheck::default()
        };
        assert_eq!(flat.down_interval_ms(7), 1000);
    }
}
