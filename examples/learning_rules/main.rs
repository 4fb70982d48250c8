//! Surrogate gradients against causal propagation as the learning rule, from large to small
//! escape noise (THEORY.md claim C3 on a trained task, and issue 6's point 5).
//!
//! Trains Yin-Yang with the hidden neurons firing under logistic noise of each scale (escape
//! mode), once with Burn's surrogate backward (the linearised propagation of spike effects) and
//! once with exact-difference propagation computed by the causal estimators. Both runs log the
//! cosine between the gradient they follow and an independent exact-difference estimate of the
//! true gradient, so the two rules are measured the same way.
//!
//! ```text
//! cargo run --release --example learning_rules
//! cargo run --release --example learning_rules -- --scales 0.5,0.05 --seeds 1 --epochs 2
//! ```
//!
//! Writes `results.md`/`results.csv`, `alignment.png`, `accuracy.png` and one folder per run
//! under `cells/` into `--out`; a rerun reuses every finished run.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use spikeburn::{Firing, Noise, SpikeMode};

use common::figure::{LineChart, Series, line_chart};
use common::grid::{cell, cell_folder, mean_std, model, options, yin_yang};
use common::table::Table;
use common::trainer::{AlignmentOptions, GradientRule, Report};

/// Compare surrogate and exact-difference learning on Yin-Yang across noise scales.
#[derive(Debug, Parser)]
#[command(name = "learning_rules")]
struct Args {
    /// Logistic noise scales, comma separated (the peak density is 1 / (4 scale)).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.25,0.1,0.05")]
    scales: Vec<f64>,
    /// Seeds per setting.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Epochs per run.
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// Hidden LIF neurons.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Optimiser steps between alignment measurements.
    #[arg(long, default_value_t = 50)]
    alignment_every: usize,
    /// Output folder.
    #[arg(long, default_value = "out/learning_rules")]
    out: PathBuf,
}

const RULES: [(GradientRule, &str); 2] = [
    (GradientRule::Surrogate, "surrogate"),
    (GradientRule::ExactDifference, "exact_difference"),
];

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if args.scales.is_empty() || args.seeds == 0 || args.epochs == 0 || args.hidden == 0 {
        return Err(
            "--scales, --seeds, --epochs and --hidden must be non-empty and positive".into(),
        );
    }
    let device = spikeburn::device("ndarray").map_err(|e| e.to_string())?;
    common::create_folder(&args.out)?;
    let clock = Instant::now();

    let mut results: Vec<(&str, f64, Vec<Report>)> = Vec::new();
    for &(rule, rule_name) in &RULES {
        for &scale in &args.scales {
            let noise = Noise::logistic(scale).map_err(|e| e.to_string())?;
            let model = model(args.hidden, Firing::new(noise, SpikeMode::EscapeNoise));
            let mut reports = Vec::new();
            for seed in 1..=args.seeds {
                let splits = yin_yang(seed, 30, None)?;
                let alignment = AlignmentOptions {
                    every: args.alignment_every,
                    samples: 32,
                    replicas: 8,
                };
                let options = options(args.epochs, seed, rule, alignment);
                let name = format!("{rule_name}_logistic{scale}_seed{seed}");
                let report = cell(
                    &cell_folder(&args.out, &name),
                    &model,
                    &options,
                    &splits,
                    &device,
                )?;
                eprintln!(
                    "{name}: test {:.1}%, alignment {:?}, {:.0} s so far",
                    100.0 * report.test_accuracy,
                    report.mean_alignment,
                    clock.elapsed().as_secs_f64()
                );
                reports.push(report);
            }
            results.push((rule_name, scale, reports));
        }
    }

    let per_layer = |reports: &[Report], pick: fn(&Report) -> Option<&Vec<f64>>, layer| {
        let values: Vec<f64> = reports
            .iter()
            .filter_map(|r| pick(r).map(|v| v[layer]))
            .collect();
        mean_std(&values)
    };
    fn alignment(report: &Report) -> Option<&Vec<f64>> {
        report.mean_alignment.as_ref()
    }
    fn consistency(report: &Report) -> Option<&Vec<f64>> {
        report.mean_consistency.as_ref()
    }
    let mut table = Table::new([
        "rule",
        "logistic scale",
        "test accuracy %",
        "alignment hidden",
        "alignment readout",
        "reference consistency hidden",
    ]);
    for (rule, scale, reports) in &results {
        let accuracy: Vec<f64> = reports.iter().map(|r| 100.0 * r.test_accuracy).collect();
        let (mean, std) = mean_std(&accuracy);
        let (hidden, hidden_std) = per_layer(reports, alignment, 0);
        let (readout, readout_std) = per_layer(reports, alignment, 1);
        table.push([
            rule.to_string(),
            scale.to_string(),
            format!("{mean:.1} ± {std:.1}"),
            format!("{hidden:.3} ± {hidden_std:.3}"),
            format!("{readout:.3} ± {readout_std:.3}"),
            format!("{:.3}", per_layer(reports, consistency, 0).0),
        ]);
    }
    table.write(&args.out, "results")?;

    let series = |value: &dyn Fn(&[Report]) -> (f64, f64)| -> Vec<Series> {
        RULES
            .iter()
            .map(|&(_, name)| {
                let rows = results.iter().filter(|r| r.0 == name);
                let (points, errors): (Vec<_>, Vec<_>) = rows
                    .map(|(_, scale, reports)| {
                        let (mean, std) = value(reports);
                        ((*scale, mean), std)
                    })
                    .unzip();
                let mut series = Series::new(name, points);
                series.errors = Some(errors);
                series
            })
            .collect()
    };
    let settings = format!(
        "{} hidden, {} epochs, {} seeds",
        args.hidden, args.epochs, args.seeds
    );
    let charts = [
        (
            "alignment.png",
            LineChart {
                title: format!(
                    "hidden-layer alignment with the exact-difference estimate ({settings})"
                ),
                x_label: "logistic noise scale".into(),
                y_label: "mean cosine".into(),
                log_x: true,
                y_range: Some((0.0, 1.0)),
                series: series(&|reports| per_layer(reports, alignment, 0)),
            },
        ),
        (
            "accuracy.png",
            LineChart {
                title: format!("Yin-Yang test accuracy ({settings})"),
                x_label: "logistic noise scale".into(),
                y_label: "test accuracy %".into(),
                log_x: true,
                y_range: None,
                series: series(&|reports| {
                    let values: Vec<f64> =
                        reports.iter().map(|r| 100.0 * r.test_accuracy).collect();
                    mean_std(&values)
                }),
            },
        ),
    ];
    for (file, chart) in charts {
        if let Err(message) = line_chart(&args.out.join(file), &chart) {
            eprintln!("warning: {file} not written: {message}");
        }
    }

    println!("{}", table.markdown());
    println!(
        "{} runs in {:.0} s; wrote {}",
        results.iter().map(|r| r.2.len()).sum::<usize>(),
        clock.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
