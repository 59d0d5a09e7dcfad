//! Summaries of the rounds as Markdown: per mode, each variant's medians and its paired ratios
//! against plain tonic (a) and the floor (e); then the goals the issue sets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::load::Window;
use super::plan::{Mode, Variant};
use crate::stats::{RatioSummary, median, quantile};

/// One window, reduced to the figures the report compares.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Calls (unary) or messages per second.
    pub throughput: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Server thread CPU time per call (unary) or message, in microseconds.
    pub cpu_us: f64,
    /// Share of the window the server thread was on the CPU.
    pub busy: f64,
    /// Share of the window the load generator's thread was on the CPU.
    pub client_busy: f64,
    /// Heap allocations of the server thread per call (unary) or message.
    pub allocations: f64,
}

impl Sample {
    pub fn of(window: &Window) -> Self {
        let seconds = window.elapsed.as_secs_f64();
        Self {
            throughput: window.units as f64 / seconds,
            p50_us: quantile(&window.latencies_us, 0.50),
            p99_us: quantile(&window.latencies_us, 0.99),
            cpu_us: window.server_cpu.as_secs_f64() * 1e6 / window.units as f64,
            busy: window.server_cpu.as_secs_f64() / seconds,
            client_busy: window.client_cpu.as_secs_f64() / seconds,
            allocations: window.server_allocations as f64 / window.units as f64,
        }
    }
}

/// Every sample of the run, by mode and variant, in round order.
#[derive(Default)]
pub struct Results {
    samples: BTreeMap<(Mode, Variant), Vec<Sample>>,
}

impl Results {
    pub fn add(&mut self, mode: Mode, variant: Variant, sample: Sample) {
        self.samples
            .entry((mode, variant))
            .or_default()
            .push(sample);
    }

    fn series(&self, mode: Mode, variant: Variant, figure: fn(&Sample) -> f64) -> Option<Vec<f64>> {
        self.samples
            .get(&(mode, variant))
            .map(|samples| samples.iter().map(figure).collect())
    }

    /// Median of paired ratios of `figure` for `variant` against `baseline` in `mode`.
    fn ratio(
        &self,
        mode: Mode,
        variant: Variant,
        baseline: Variant,
        figure: fn(&Sample) -> f64,
    ) -> Option<RatioSummary> {
        let ours = self.series(mode, variant, figure)?;
        let theirs = self.series(mode, baseline, figure)?;
        Some(RatioSummary::of(&ours, &theirs))
    }

    /// One table per mode.
    pub fn tables(&self, modes: &[Mode], variants: &[Variant]) -> String {
        let mut out = String::new();
        for &mode in modes {
            let unit = mode.unit();
            let per = if mode == Mode::Unary { "call" } else { "msg" };
            let _ = writeln!(out, "### {mode}\n");
            let _ = writeln!(
                out,
                "| variant | {unit}/s | p50 µs | p99 µs | server CPU µs/{per} | server allocations/{per} | server busy | client busy | {unit}/s vs (a) | p99 vs (a) | CPU vs (a) | {unit}/s vs (e) |"
            );
            let _ = writeln!(
                out,
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for &variant in variants {
                let Some(samples) = self.samples.get(&(mode, variant)) else {
                    continue;
                };
                let med = |figure: fn(&Sample) -> f64| {
                    median(&samples.iter().map(figure).collect::<Vec<_>>())
                };
                let ratio = |baseline, figure| {
                    self.ratio(mode, variant, baseline, figure)
                        .map_or_else(|| "–".to_owned(), |r| r.to_string())
                };
                let _ = writeln!(
                    out,
                    "| {variant} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0}% | {:.0}% | {} | {} | {} | {} |",
                    med(|s| s.throughput),
                    med(|s| s.p50_us),
                    med(|s| s.p99_us),
                    med(|s| s.cpu_us),
                    med(|s| s.allocations),
                    med(|s| s.busy) * 100.0,
                    med(|s| s.client_busy) * 100.0,
                    ratio(Variant::Tonic, |s: &Sample| s.throughput),
                    ratio(Variant::Tonic, |s: &Sample| s.p99_us),
                    ratio(Variant::Tonic, |s: &Sample| s.cpu_us),
                    ratio(Variant::Floor, |s: &Sample| s.throughput),
                );
            }
            out.push('\n');
        }
        out
    }

    /// The goals, each with the measured median of paired ratios.
    pub fn goals(&self) -> String {
        let throughput = |s: &Sample| s.throughput;
        let p99 = |s: &Sample| s.p99_us;
        let unary =
            |variant: Variant, figure| self.ratio(Mode::Unary, variant, Variant::Tonic, figure);
        let mut goals = vec![
            Goal::at_least(
                "(b) unary calls/s",
                1.00,
                unary(Variant::Greeter, throughput),
            ),
            Goal::at_least(
                "(c) unary calls/s",
                0.97,
                unary(Variant::GreeterChain, throughput),
            ),
            Goal::at_most("(c) unary p99", 1.05, unary(Variant::GreeterChain, p99)),
        ];
        for mode in [Mode::ServerStreaming, Mode::ClientStreaming, Mode::Bidi] {
            for variant in [Variant::Greeter, Variant::GreeterChain] {
                let subject = format!("({}) {} messages/s", variant.letter(), mode.method());
                let ratio = self.ratio(mode, variant, Variant::Tonic, throughput);
                goals.push(Goal::at_least(&subject, 0.97, ratio));
            }
        }
        let mut out = String::from("| goal | measured | met |\n|---|---:|---|\n");
        for goal in goals {
            let Some(ratio) = goal.ratio else { continue };
            let (sign, met) = if goal.at_least {
                ("≥", ratio.median >= goal.bound)
            } else {
                ("≤", ratio.median <= goal.bound)
            };
            let _ = writeln!(
                out,
                "| {} {sign} {:.2} × (a) | {ratio} | {} |",
                goal.subject,
                goal.bound,
                if met { "yes" } else { "**no**" }
            );
        }
        out
    }
}

/// A bound on a median of paired ratios against (a).
struct Goal {
    subject: String,
    at_least: bool,
    bound: f64,
    ratio: Option<RatioSummary>,
}

impl Goal {
    fn at_least(subject: &str, bound: f64, ratio: Option<RatioSummary>) -> Self {
        Self {
            subject: subject.to_owned(),
            at_least: true,
            bound,
            ratio,
        }
    }

    fn at_most(subject: &str, bound: f64, ratio: Option<RatioSummary>) -> Self {
        Self {
            at_least: false,
            ..Self::at_least(subject, bound, ratio)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(throughput: f64, p99_us: f64) -> Sample {
        Sample {
            throughput,
            p50_us: p99_us / 2.0,
            p99_us,
            cpu_us: 1e6 / throughput,
            busy: 1.0,
            client_busy: 0.5,
            allocations: 10.0,
        }
    }

    #[test]
    fn ratios_pair_samples_of_the_same_round() {
        let mut results = Results::default();
        // Round 2 is slow for both; each round still pairs (b) with its own (a) at 0.9.
        for (a, b) in [(100.0, 90.0), (50.0, 45.0), (100.0, 90.0)] {
            results.add(Mode::Unary, Variant::Tonic, sample(a, 10.0));
            results.add(Mode::Unary, Variant::Greeter, sample(b, 11.0));
        }
        let ratio = results
            .ratio(Mode::Unary, Variant::Greeter, Variant::Tonic, |s| {
                s.throughput
            })
            .unwrap();
        assert!((ratio.median - 0.9).abs() < 1e-12 && (ratio.q3 - 0.9).abs() < 1e-12);
        assert!(
            results
                .ratio(Mode::Bidi, Variant::Greeter, Variant::Tonic, |s| s
                    .throughput)
                .is_none()
        );
        let goals = results.goals();
        assert!(
            goals.contains("| (b) unary calls/s ≥ 1.00 × (a) | 0.900 × (0.900–0.900) | **no** |"),
            "{goals}"
        );
        let table = results.tables(&[Mode::Unary], &[Variant::Tonic, Variant::Greeter]);
        assert!(
            table.contains("| (b) greeter, no interceptors | 90 | 6 | 11 |"),
            "{table}"
        );
    }
}
