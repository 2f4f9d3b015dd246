//! A container's health checks: when they run and what their results make of its health
//! (Docker's and ECS's rules).

use tokio::time::{Duration, Instant};

use crate::agent::{HealthCheck, HealthStatus};

/// Where a container's health checks are.
pub(super) struct Health {
    pub(super) check: HealthCheck,
    /// When the container started (for the start period).
    started: Instant,
    /// When the next check runs (if none is running).
    pub(super) next: Instant,
    /// The running check: its exec id, when it started and when it times out.
    pub(super) probe: Option<(u64, Instant, Instant)>,
    /// Consecutive counted failures.
    failures: u32,
    /// A check has passed (the start period is over then, as in Docker).
    passed: bool,
    /// Last reported status.
    status: Option<HealthStatus>,
}

impl Health {
    pub(super) fn new(check: HealthCheck, now: Instant) -> Self {
        let check = HealthCheck {
            interval: check.interval.max(Duration::from_secs(1)),
            timeout: check.timeout.max(Duration::from_secs(1)),
            retries: check.retries.max(1),
            ..check
        };
        Health {
            next: now + check.interval,
            started: now,
            check,
            probe: None,
            failures: 0,
            passed: false,
            status: None,
        }
    }

    /// When this container's checks next need attention.
    pub(super) fn due(&self) -> Instant {
        self.probe.map_or(self.next, |(_, _, deadline)| deadline)
    }

    /// Records the end of the running check; returns the new status if it changed. A failure
    /// of a check that started within the start period does not count until a check has
    /// passed (Docker's and ECS's rule).
    pub(super) fn finish(&mut self, ok: bool, now: Instant) -> Option<HealthStatus> {
        let began = self.probe.take().map_or(now, |(_, began, _)| began);
        self.next = now + self.check.interval;
        let new = if ok {
            self.failures = 0;
            self.passed = true;
            HealthStatus::Healthy
        } else if !self.passed && began < self.started + self.check.start_period {
            return None;
        } else {
            self.failures += 1;
            if self.failures < self.check.retries {
                return None;
            }
            HealthStatus::Unhealthy
        };
        (self.status != Some(new)).then(|| {
            self.status = Some(new);
            new
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(retries: u32, start_period_s: u64) -> (Health, Instant) {
        let t0 = Instant::now();
        let h = Health::new(
            HealthCheck {
                argv: vec!["true".into()],
                interval: Duration::from_secs(5),
                timeout: Duration::from_secs(2),
                retries,
                start_period: Duration::from_secs(start_period_s),
            },
            t0,
        );
        (h, t0)
    }

    /// Runs one check that started at `t0 + at_s` and ended 1 s later.
    fn check(h: &mut Health, t0: Instant, at_s: u64, ok: bool) -> Option<HealthStatus> {
        let began = t0 + Duration::from_secs(at_s);
        h.probe = Some((at_s, began, began + h.check.timeout));
        h.finish(ok, began + Duration::from_secs(1))
    }

    #[test]
    fn retries_in_a_row_make_unhealthy_and_a_pass_healthy_reported_on_change() {
        let (mut h, t0) = health(3, 0);
        assert_eq!(
            h.due(),
            t0 + Duration::from_secs(5),
            "first check after interval"
        );
        assert_eq!(check(&mut h, t0, 5, false), None);
        assert_eq!(check(&mut h, t0, 11, false), None);
        assert_eq!(check(&mut h, t0, 17, false), Some(HealthStatus::Unhealthy));
        assert_eq!(check(&mut h, t0, 23, false), None, "no change, no report");
        assert_eq!(check(&mut h, t0, 29, true), Some(HealthStatus::Healthy));
        assert_eq!(check(&mut h, t0, 35, true), None);
        assert_eq!(check(&mut h, t0, 41, false), None, "failures count afresh");
        assert_eq!(check(&mut h, t0, 47, true), None);
        assert!(h.probe.is_none());
        assert_eq!(
            h.next,
            t0 + Duration::from_secs(53),
            "interval after the end"
        );
    }

    #[test]
    fn the_start_period_forgives_failures_until_a_check_passes() {
        let (mut h, t0) = health(1, 30);
        assert_eq!(check(&mut h, t0, 5, false), None);
        assert_eq!(check(&mut h, t0, 11, false), None);
        assert_eq!(check(&mut h, t0, 17, true), Some(HealthStatus::Healthy));
        // Passed once: the start period is over.
        assert_eq!(check(&mut h, t0, 23, false), Some(HealthStatus::Unhealthy));
        let (mut h, t0) = health(1, 30);
        // A check that began within the period does not count even if it ended after it.
        let began = t0 + Duration::from_secs(29);
        h.probe = Some((1, began, began + Duration::from_secs(2)));
        assert_eq!(h.finish(false, t0 + Duration::from_secs(31)), None);
        assert_eq!(check(&mut h, t0, 36, false), Some(HealthStatus::Unhealthy));
    }
}
