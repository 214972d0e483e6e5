//! Row-count anomaly detection over check history (spec/ledger.md section 7).

use serde::Serialize;

/// Check-history settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckConfig {
    /// Snapshots kept per table (oldest dropped first). Default 100.
    pub max_history: usize,
    /// Relative deviation from the mean above which a count is an anomaly. Default 0.5.
    pub threshold: f64,
    /// Equal trailing counts (plus the new one) that make a stall. Default 3.
    pub min_history: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            max_history: 100,
            threshold: 0.5,
            min_history: 3,
        }
    }
}

impl CheckConfig {
    /// Why the settings are unusable, if they are.
    pub fn problem(&self) -> Option<&'static str> {
        if self.max_history == 0 {
            Some("max_history must be at least 1")
        } else if !(self.threshold.is_finite() && self.threshold > 0.0) {
            Some("threshold must be a positive finite number")
        } else if self.min_history == 0 {
            Some("min_history must be at least 1")
        } else {
            None
        }
    }
}

/// The kind of row-count anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The new count is at or below 10% of the mean (a table was emptied or cut short).
    Truncation,
    /// The new count is far above the mean (a spike, typically duplicated rows).
    Duplication,
    /// The new count is far below the mean, but above 10% of it.
    Drop,
    /// The count stopped changing although it grew before.
    Stall,
}

/// A detected anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Anomaly {
    /// What kind.
    pub kind: AnomalyKind,
    /// The new count.
    pub row_count: u64,
    /// Mean of the history it was compared with.
    pub mean: f64,
    /// `|row_count - mean| / mean` (infinite when the mean is 0 and the count is not).
    pub deviation: f64,
}

/// Compares `new` with `history` (oldest first).
///
/// A relative deviation from the history's mean above `threshold` is an anomaly: truncation at
/// or below 10% of the mean, duplication above the mean, drop below it. Otherwise, when the last
/// `min_history` counts and `new` are all equal although the history grew before, it is a stall.
/// An empty history yields no anomaly.
pub fn detect_anomaly(history: &[u64], new: u64, config: &CheckConfig) -> Option<Anomaly> {
    if history.is_empty() {
        return None;
    }
    let mean = history.iter().map(|&c| c as f64).sum::<f64>() / history.len() as f64;
    let newf = new as f64;
    let deviation = if mean == 0.0 {
        if new == 0 { 0.0 } else { f64::INFINITY }
    } else {
        (newf - mean).abs() / mean
    };
    if deviation > config.threshold {
        let kind = if newf <= 0.1 * mean {
            AnomalyKind::Truncation
        } else if newf > mean {
            AnomalyKind::Duplication
        } else {
            AnomalyKind::Drop
        };
        return Some(Anomaly {
            kind,
            row_count: new,
            mean,
            deviation,
        });
    }
    let window = config.min_history;
    if history.len() >= window {
        let tail = &history[history.len() - window..];
        let flat = tail.iter().all(|&c| c == new);
        let grew_before = history.windows(2).any(|w| w[1] > w[0]);
        if flat && grew_before {
            return Some(Anomaly {
                kind: AnomalyKind::Stall,
                row_count: new,
                mean,
                deviation,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(history: &[u64], new: u64) -> Option<AnomalyKind> {
        detect_anomaly(history, new, &CheckConfig::default()).map(|a| a.kind)
    }

    #[test]
    fn each_case_is_named() {
        assert_eq!(kind(&[], 5), None);
        assert_eq!(kind(&[100, 100, 100], 110), None);
        assert_eq!(kind(&[100, 100, 100], 5), Some(AnomalyKind::Truncation));
        assert_eq!(kind(&[100, 100, 100], 10), Some(AnomalyKind::Truncation));
        assert_eq!(kind(&[100, 100, 100], 40), Some(AnomalyKind::Drop));
        assert_eq!(kind(&[100, 100, 100], 200), Some(AnomalyKind::Duplication));
        assert_eq!(kind(&[90, 100, 100, 100], 100), Some(AnomalyKind::Stall));
        // Flat from the start: no growth was expected.
        assert_eq!(kind(&[100, 100, 100], 100), None);
        assert_eq!(kind(&[0, 0], 3), Some(AnomalyKind::Duplication));
    }

    #[test]
    fn threshold_is_configurable() {
        let strict = CheckConfig {
            threshold: 0.05,
            ..CheckConfig::default()
        };
        assert_eq!(
            detect_anomaly(&[100], 110, &strict).map(|a| a.kind),
            Some(AnomalyKind::Duplication)
        );
    }
}
