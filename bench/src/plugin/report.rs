//! The Markdown tables of the plugin benchmark: medians per variant, then the paired ratios the
//! goals name, each beside its goal.

use std::time::Duration;

use super::variants::{Sample, Variant};
use crate::stats::{RatioSummary, median};

/// Every round's sample of each variant that ran (same rounds, same order of rounds).
pub struct Results {
    pub variants: Vec<(Variant, Vec<Sample>)>,
}

impl Results {
    fn samples(&self, variant: Variant) -> Option<&[Sample]> {
        self.variants
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, s)| s.as_slice())
            .filter(|s| !s.is_empty())
    }

    /// A per-round figure of `variant`, for paired ratios.
    fn series(&self, variant: Variant, figure: impl Fn(&Sample) -> f64) -> Option<Vec<f64>> {
        self.samples(variant)
            .map(|samples| samples.iter().map(figure).collect())
    }
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Wall time of all plugins protoc ran (they run one after the other).
fn plugin_wall(sample: &Sample) -> f64 {
    sample.plugins.iter().map(|(_, u)| secs(u.wall)).sum()
}

fn plugin_cpu(sample: &Sample) -> f64 {
    sample.plugins.iter().map(|(_, u)| secs(u.cpu())).sum()
}

/// The larger peak RSS of the plugins, in MiB.
fn plugin_rss(sample: &Sample) -> f64 {
    let kib = sample.plugins.iter().map(|(_, u)| u.max_rss_kib).max();
    kib.map_or(f64::NAN, |kib| kib as f64 / 1024.0)
}

fn total_wall(sample: &Sample) -> f64 {
    secs(sample.total.wall)
}

fn total_rss(sample: &Sample) -> f64 {
    sample.total.max_rss_kib as f64 / 1024.0
}

/// The table of medians, one row per variant.
pub fn medians_table(results: &Results) -> String {
    let mut out = String::from(
        "| variant | wall | plugin wall | plugin CPU | plugin peak RSS | CPU (all) | peak RSS (all) | output |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (variant, samples) in &results.variants {
        if samples.is_empty() {
            continue;
        }
        let med =
            |figure: fn(&Sample) -> f64| median(&samples.iter().map(figure).collect::<Vec<_>>());
        let has_plugins = !samples[0].plugins.is_empty();
        let plugin_cell = |value: f64, unit: &str| {
            if has_plugins {
                format_value(value, unit)
            } else {
                "—".to_owned()
            }
        };
        let (files, bytes) = samples[0].output;
        let breakdown = if samples[0].plugins.len() > 1 {
            let parts: Vec<String> = samples[0]
                .plugins
                .iter()
                .map(|(name, _)| {
                    let wall = samples
                        .iter()
                        .filter_map(|s| s.plugin(name).map(|u| secs(u.wall)))
                        .collect::<Vec<_>>();
                    let rss = samples
                        .iter()
                        .filter_map(|s| s.plugin(name).map(|u| u.max_rss_kib as f64 / 1024.0))
                        .collect::<Vec<_>>();
                    format!(
                        "{name} {} / {}",
                        format_value(median(&wall), "s"),
                        format_value(median(&rss), "MiB")
                    )
                })
                .collect();
            format!(" ({})", parts.join(", "))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| {}{breakdown} | {} | {} | {} | {} | {} | {} | {files} files, {:.1} MB |\n",
            variant.label(),
            format_value(med(total_wall), "s"),
            plugin_cell(med(plugin_wall), "s"),
            plugin_cell(med(plugin_cpu), "s"),
            plugin_cell(med(plugin_rss), "MiB"),
            format_value(med(|s| secs(s.total.cpu())), "s"),
            format_value(med(total_rss), "MiB"),
            bytes as f64 / 1e6,
        ));
    }
    out
}

fn format_value(value: f64, unit: &str) -> String {
    if value.is_nan() {
        "—".to_owned()
    } else if unit == "s" {
        format!("{value:.3} s")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// One ratio of the goals: `numerator / denominator` per round.
struct Ratio {
    what: &'static str,
    goal: Option<f64>,
    numerator: (Variant, fn(&Sample) -> f64),
    denominator: (Variant, fn(&Sample) -> f64),
}

/// The peak RSS of the larger of the two peer plugins, per round.
fn larger_peer_rss(sample: &Sample) -> f64 {
    plugin_rss(sample)
}

const RATIOS: &[Ratio] = &[
    Ratio {
        what: "greeter plugin wall / (prost + tonic) plugins' wall",
        goal: Some(0.5),
        numerator: (Variant::Greeter, plugin_wall),
        denominator: (Variant::ProstTonic, plugin_wall),
    },
    Ratio {
        what: "protoc + greeter wall / protoc alone wall",
        goal: Some(2.0),
        numerator: (Variant::Greeter, total_wall),
        denominator: (Variant::ProtocAlone, total_wall),
    },
    Ratio {
        what: "protoc + instant answer of the same output / protoc alone: protoc's own share, \
               the floor under the ≤ 2 × goal",
        goal: None,
        numerator: (Variant::GreeterAnswered, total_wall),
        denominator: (Variant::ProtocAlone, total_wall),
    },
    Ratio {
        what: "greeter plugin peak RSS / larger peer plugin's",
        goal: Some(1.0),
        numerator: (Variant::Greeter, plugin_rss),
        denominator: (Variant::ProstTonic, larger_peer_rss),
    },
    Ratio {
        what: "protoc + greeter wall / protoc + prost + tonic wall",
        goal: None,
        numerator: (Variant::Greeter, total_wall),
        denominator: (Variant::ProstTonic, total_wall),
    },
    Ratio {
        what: "greeter messages=false plugin wall / tonic alone plugin wall",
        goal: None,
        numerator: (Variant::GreeterServices, plugin_wall),
        denominator: (Variant::TonicAlone, plugin_wall),
    },
    Ratio {
        what: "build.rs greeter wall / tonic-prost-build wall",
        goal: Some(0.5),
        numerator: (Variant::BuildRsGreeter, total_wall),
        denominator: (Variant::BuildRsTonic, total_wall),
    },
    Ratio {
        what: "build.rs greeter peak RSS / tonic-prost-build's",
        goal: Some(1.0),
        numerator: (Variant::BuildRsGreeter, total_rss),
        denominator: (Variant::BuildRsTonic, total_rss),
    },
];

/// The ratios table (rows whose variants did not run are left out).
pub fn ratios_table(results: &Results) -> String {
    let mut out = String::from(
        "| ratio | median (IQR) of per-round ratios | goal | |\n| --- | ---: | ---: | --- |\n",
    );
    for ratio in RATIOS {
        let (Some(a), Some(b)) = (
            results.series(ratio.numerator.0, ratio.numerator.1),
            results.series(ratio.denominator.0, ratio.denominator.1),
        ) else {
            continue;
        };
        let summary = RatioSummary::of(&a, &b);
        let (goal, verdict) = match ratio.goal {
            Some(goal) => (format!("≤ {goal}"), verdict(summary.median, goal)),
            None => ("—".to_owned(), ""),
        };
        out.push_str(&format!(
            "| {} | {summary} | {goal} | {verdict} |\n",
            ratio.what
        ));
    }
    out
}

fn verdict(median: f64, goal: f64) -> &'static str {
    if median.is_nan() {
        "n/a"
    } else if median <= goal {
        "met"
    } else {
        "missed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Usage;

    fn usage(wall_ms: u64, rss_mib: u64) -> Usage {
        Usage {
            wall: Duration::from_millis(wall_ms),
            user: Duration::from_millis(wall_ms / 2),
            system: Duration::ZERO,
            max_rss_kib: rss_mib * 1024,
            exit_code: 0,
        }
    }

    fn sample(total_ms: u64, plugins: Vec<(&'static str, Usage)>) -> Sample {
        Sample {
            total: usage(total_ms, 10),
            plugins,
            output: (1, 100),
        }
    }

    #[test]
    fn ratios_pair_rounds_and_use_the_larger_peer() {
        let results = Results {
            variants: vec![
                (
                    Variant::ProtocAlone,
                    vec![sample(100, vec![]), sample(100, vec![])],
                ),
                (
                    Variant::Greeter,
                    vec![
                        sample(150, vec![("greeter", usage(40, 30))]),
                        sample(190, vec![("greeter", usage(60, 30))]),
                    ],
                ),
                (
                    Variant::GreeterAnswered,
                    vec![
                        sample(130, vec![("greeter", usage(2, 5))]),
                        sample(150, vec![("greeter", usage(2, 5))]),
                    ],
                ),
                (
                    Variant::ProstTonic,
                    vec![
                        sample(
                            300,
                            vec![("prost", usage(60, 20)), ("tonic", usage(40, 60))],
                        ),
                        sample(
                            300,
                            vec![("prost", usage(60, 20)), ("tonic", usage(40, 60))],
                        ),
                    ],
                ),
            ],
        };
        let table = ratios_table(&results);
        // 40/100 and 60/100 → median 0.5, met; 150/100 and 190/100 → 1.7, met; 30/60 → 0.5.
        assert!(
            table.contains("| greeter plugin wall / (prost + tonic) plugins' wall | 0.500 ×"),
            "{table}"
        );
        assert!(table.contains("protoc alone wall | 1.700 ×"), "{table}");
        assert!(table.contains("larger peer plugin's | 0.500 ×"), "{table}");
        // 130/100 and 150/100: protoc's own share with the same output.
        assert!(
            table.contains("the floor under the ≤ 2 × goal | 1.400 ×"),
            "{table}"
        );
        assert!(!table.contains("build.rs"), "{table}");
        assert_eq!(verdict(0.51, 0.5), "missed");
        assert_eq!(verdict(f64::NAN, 0.5), "n/a");
    }
}
