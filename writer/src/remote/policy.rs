//! Retry, backoff, the per-run retry budget and the three-state circuit breaker, and the loop
//! that applies them to one leg of a transfer (spec/remote-state.md section 4).

use std::future::Future;
use std::time::{Duration, Instant};

use super::config::RetryConfig;
use super::error::SyncError;
use super::report::{Direction, Leg, Outcome, Tier};

/// How a client call failed, as the retry loop needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Network, 5xx, a dropped connection: another attempt may succeed.
    Transient,
    /// Refused credentials, a bad request: another attempt will not.
    Permanent,
    /// A conditional write's precondition failed: another writer won.
    Conflict,
}

/// A failed client call.
#[derive(Debug, Clone)]
pub(crate) struct TierError {
    pub kind: FailureKind,
    pub message: String,
}

impl TierError {
    pub fn transient(message: impl Into<String>) -> TierError {
        TierError {
            kind: FailureKind::Transient,
            message: message.into(),
        }
    }
    pub fn permanent(message: impl Into<String>) -> TierError {
        TierError {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> TierError {
        TierError {
            kind: FailureKind::Conflict,
            message: message.into(),
        }
    }
}

/// The state of one tier's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls are refused without an attempt.
    Open,
    /// The cool-down passed: the next call is a probe that closes or reopens it.
    HalfOpen,
}

/// A three-state circuit breaker. Lives as long as its [`super::StateSync`], so consecutive
/// failures count across transfers and runs (Rocky builds one per call, which with its defaults
/// can never trip).
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    threshold: u32,
    recovery: Option<Duration>,
    failures: u32,
    state: BreakerState,
    opened_at: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, recovery: Option<Duration>) -> Breaker {
        Breaker {
            threshold,
            recovery,
            failures: 0,
            state: BreakerState::Closed,
            opened_at: None,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a call may go now; moves Open to HalfOpen once the cool-down has passed.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open => {
                let cooled = match (self.recovery, self.opened_at) {
                    (Some(wait), Some(at)) => now.saturating_duration_since(at) >= wait,
                    _ => false,
                };
                if cooled {
                    self.state = BreakerState::HalfOpen;
                }
                cooled
            }
        }
    }

    pub fn record_success(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
        self.opened_at = None;
    }

    pub fn record_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.threshold == 0 {
            return;
        }
        let trip = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.failures >= self.threshold,
            BreakerState::Open => false,
        };
        if trip {
            self.state = BreakerState::Open;
            self.opened_at = Some(now);
        }
    }

    pub fn reset(&mut self) {
        self.record_success();
    }
}

/// Backoff before retry `attempt` (0-based): `min(initial * multiplier^attempt, max)`, spread with
/// jitter over a band 25% wide centred on that value (as Rocky's `compute_backoff`).
pub(crate) fn backoff(cfg: &RetryConfig, attempt: u32, random: u64) -> Duration {
    let base = cfg.initial_backoff.as_secs_f64() * cfg.backoff_multiplier.powi(attempt as i32);
    let capped = if base.is_finite() {
        base.min(cfg.max_backoff.as_secs_f64()).max(0.0)
    } else {
        cfg.max_backoff.as_secs_f64()
    };
    let capped_ms = (capped * 1000.0) as u64;
    if !cfg.jitter {
        return Duration::from_millis(capped_ms);
    }
    let band = capped_ms / 4;
    let low = capped_ms - band / 2;
    Duration::from_millis(low + random % band.max(1))
}

/// Retry state shared by every leg of a [`super::StateSync`].
#[derive(Debug)]
pub(crate) struct Policy {
    pub retry: RetryConfig,
    pub timeout: Duration,
    breakers: [Breaker; 2],
    /// Retries left this run; `None` is unlimited.
    budget_left: Option<u32>,
    rng: u64,
}

/// A leg that failed: its outcome and the typed error.
#[derive(Debug)]
pub(crate) struct LegFailure {
    pub outcome: Outcome,
    pub error: SyncError,
}

impl Policy {
    pub fn new(retry: RetryConfig, timeout: Duration) -> Policy {
        let breaker = Breaker::new(
            retry.circuit_breaker_threshold,
            retry.circuit_breaker_recovery,
        );
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        Policy {
            budget_left: retry.max_retries_per_run,
            retry,
            timeout,
            breakers: [breaker.clone(), breaker],
            rng: seed | 1,
        }
    }

    /// Starts a new run: the per-run retry budget is full again. Breakers are kept.
    pub fn begin_run(&mut self) {
        self.budget_left = self.retry.max_retries_per_run;
    }

    pub fn breaker(&self, tier: Tier) -> &Breaker {
        &self.breakers[tier as usize]
    }

    pub fn reset_breakers(&mut self) {
        for b in &mut self.breakers {
            b.reset();
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: jitter needs spread, not quality.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Runs `op` for one leg: breaker check before every attempt, one wall-clock deadline for all
    /// attempts and backoffs, retries only of transient failures (none when `retry` is false),
    /// each retry paid from the run's budget.
    pub async fn run_leg<T, F, Fut>(
        &mut self,
        tier: Tier,
        direction: Direction,
        key: &str,
        retry: bool,
        mut op: F,
    ) -> (Leg, Result<T, LegFailure>)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(T, u64), TierError>>,
    {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let max_retries = if retry { self.retry.max_retries } else { 0 };
        let mut attempts = 0u32;
        let mut last_error: Option<String> = None;
        let result = loop {
            let now = Instant::now();
            let breaker = &mut self.breakers[tier as usize];
            if !breaker.allow(now) {
                break Err(LegFailure {
                    outcome: Outcome::CircuitOpen,
                    error: SyncError::CircuitOpen {
                        tier,
                        consecutive_failures: breaker.failures(),
                    },
                });
            }
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                break Err(self.timeout_failure(tier, direction));
            }
            attempts += 1;
            match tokio::time::timeout(remaining, op()).await {
                Err(_elapsed) => {
                    self.breakers[tier as usize].record_failure(Instant::now());
                    last_error = Some(format!("no answer within {:?}", self.timeout));
                    break Err(self.timeout_failure(tier, direction));
                }
                Ok(Ok((value, bytes))) => {
                    self.breakers[tier as usize].record_success();
                    let leg = Leg {
                        tier,
                        key: key.to_owned(),
                        outcome: Outcome::Ok,
                        attempts,
                        bytes,
                        elapsed: start.elapsed(),
                        error: None,
                    };
                    return (leg, Ok(value));
                }
                Ok(Err(e)) => match e.kind {
                    FailureKind::Conflict => {
                        // The server answered: the tier is healthy.
                        self.breakers[tier as usize].record_success();
                        last_error = Some(e.message);
                        break Err(LegFailure {
                            outcome: Outcome::Conflict,
                            error: SyncError::CasConflict {
                                key: key.to_owned(),
                            },
                        });
                    }
                    FailureKind::Permanent => {
                        last_error = Some(e.message.clone());
                        break Err(LegFailure {
                            outcome: Outcome::Error,
                            error: SyncError::Backend {
                                tier,
                                direction,
                                message: e.message,
                            },
                        });
                    }
                    FailureKind::Transient => {
                        let breaker = &mut self.breakers[tier as usize];
                        breaker.record_failure(Instant::now());
                        last_error = Some(e.message.clone());
                        if attempts > max_retries {
                            break Err(LegFailure {
                                outcome: Outcome::TransientExhausted,
                                error: SyncError::TransientExhausted {
                                    tier,
                                    direction,
                                    attempts,
                                    last: e.message,
                                },
                            });
                        }
                        if breaker.state() == BreakerState::Open {
                            break Err(LegFailure {
                                outcome: Outcome::CircuitOpen,
                                error: SyncError::CircuitOpen {
                                    tier,
                                    consecutive_failures: breaker.failures(),
                                },
                            });
                        }
                        if let Some(left) = self.budget_left.as_mut() {
                            if *left == 0 {
                                break Err(LegFailure {
                                    outcome: Outcome::BudgetExhausted,
                                    error: SyncError::RetryBudgetExhausted {
                                        limit: self.retry.max_retries_per_run.unwrap_or(0),
                                    },
                                });
                            }
                            *left -= 1;
                        }
                        let random = self.next_random();
                        let wait = backoff(&self.retry, attempts - 1, random);
                        let remaining = deadline.saturating_duration_since(Instant::now());
                        tracing::debug!(
                            op = direction.event(),
                            tier = tier.as_str(),
                            attempt = attempts,
                            backoff_ms = wait.as_millis() as u64,
                            error = e.message.as_str(),
                            outcome = "retry",
                            "state transient error, retrying"
                        );
                        if wait >= remaining {
                            tokio::time::sleep(remaining).await;
                            break Err(self.timeout_failure(tier, direction));
                        }
                        tokio::time::sleep(wait).await;
                    }
                },
            }
        };
        let outcome = match &result {
            Err(f) => f.outcome,
            Ok(_) => Outcome::Ok,
        };
        let leg = Leg {
            tier,
            key: key.to_owned(),
            outcome,
            attempts,
            bytes: 0,
            elapsed: start.elapsed(),
            error: last_error.or_else(|| result.as_ref().err().map(|f| f.error.to_string())),
        };
        (leg, result)
    }

    fn timeout_failure(&self, tier: Tier, direction: Direction) -> LegFailure {
        LegFailure {
            outcome: Outcome::Timeout,
            error: SyncError::Timeout {
                tier,
                direction,
                after: self.timeout,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_a_quarter_band() {
        let cfg = RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        };
        let ms: Vec<u128> = (0..7).map(|a| backoff(&cfg, a, 0).as_millis()).collect();
        assert_eq!(ms, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        let cfg = RetryConfig::default();
        for r in [0u64, 1, 249, 250, 499, u64::MAX] {
            let d = backoff(&cfg, 0, r).as_millis();
            assert!((875..1125).contains(&d), "{d}");
        }
        assert_ne!(backoff(&cfg, 0, 3), backoff(&cfg, 0, 77));
    }

    #[test]
    fn breaker_opens_at_threshold_half_opens_after_cool_down_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Some(Duration::from_secs(10)));
        assert!(b.allow(t0));
        b.record_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record_failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_secs(9)));
        assert!(b.allow(t0 + Duration::from_secs(10)));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // A failed probe reopens at once, with a fresh cool-down.
        b.record_failure(t0 + Duration::from_secs(10));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_secs(19)));
        assert!(b.allow(t0 + Duration::from_secs(20)));
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn breaker_without_recovery_stays_open_and_zero_threshold_never_opens() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, None);
        b.record_failure(t0);
        assert!(!b.allow(t0 + Duration::from_secs(1_000_000)));
        let mut off = Breaker::new(0, None);
        for _ in 0..100 {
            off.record_failure(t0);
        }
        assert!(off.allow(t0));
    }
}
