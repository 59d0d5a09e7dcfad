//! Summaries of repeated, interleaved measurements: medians of paired ratios and their spread.

/// The median of `values` (the mean of the middle two for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// The `q` quantile (0..=1) of `values`, nearest rank; `NaN` when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

/// Round by round ratios `a[i] / b[i]` of two variants measured in the same rounds.
pub fn paired_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}

/// Median of paired ratios with the interquartile range, as `0.987 × (0.962–1.004)`.
#[derive(Debug, Clone, Copy)]
pub struct RatioSummary {
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
}

impl RatioSummary {
    pub fn of(a: &[f64], b: &[f64]) -> Self {
        let ratios = paired_ratios(a, b);
        Self {
            median: median(&ratios),
            q1: quantile(&ratios, 0.25),
            q3: quantile(&ratios, 0.75),
        }
    }
}

impl std::fmt::Display for RatioSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} × ({:.3}–{:.3})", self.median, self.q1, self.q3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn paired_ratio_summary() {
        let summary = RatioSummary::of(&[2.0, 4.0, 9.0], &[1.0, 2.0, 3.0]);
        assert_eq!(summary.median, 2.0);
        assert_eq!(summary.q1, 2.0);
        assert_eq!(summary.q3, 3.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.99), 5.0);
    }
}
