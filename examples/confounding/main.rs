//! The two-neuron confounding benchmark of Lansdell and Kording (THEORY.md claim C8): how far
//! the naive spike-outcome dependence, backdoor adjustment, the private noise as instrument and
//! regression discontinuity land from the true effect as the neurons' input correlation grows.
//!
//! Run, from the repository root (about half a minute in release mode):
//!
//! ```text
//! cargo run --release --example confounding -- --out out/confounding
//! ```
//!
//! Writes `confounding.csv`, `confounding.md`, `bias.png` and `rmse.png`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::causal::{ConfoundedPairSpec, PairEstimates};

use common::figure::{LineChart, Series, line_chart};
use common::table::Table;

/// Bias and RMSE of four estimators of one spike's effect against the input correlation.
#[derive(Debug, Parser)]
struct Args {
    /// Folder for the table and figures.
    #[arg(long, default_value = "out/confounding")]
    out: PathBuf,
    /// Input correlations rho, comma separated, in [0, 1].
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,0.9,0.99")]
    correlations: Vec<f64>,
    /// Trials per estimate.
    #[arg(long, default_value_t = 5000)]
    trials: usize,
    /// Independent estimates per correlation.
    #[arg(long, default_value_t = 100)]
    repeats: usize,
    /// Half width of the regression-discontinuity window.
    #[arg(long, default_value_t = 0.5)]
    bandwidth: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const ESTIMATORS: [&str; 4] = ["naive", "backdoor", "instrumental", "discontinuity"];

fn pick(estimates: &PairEstimates, index: usize) -> f64 {
    let estimate = match index {
        0 => &estimates.naive,
        1 => &estimates.backdoor,
        2 => &estimates.instrumental,
        _ => &estimates.discontinuity,
    };
    estimate.estimate()
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if args.repeats < 2 {
        return Err(format!(
            "`--repeats` must be at least 2, got {}",
            args.repeats
        ));
    }
    common::create_folder(&args.out)?;
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(args.seed);

    let mut table = Table::new([
        "correlation",
        "estimator",
        "true effect",
        "mean",
        "bias",
        "rmse",
    ]);
    let mut bias_lines = vec![Vec::new(); ESTIMATORS.len()];
    let mut rmse_lines = vec![Vec::new(); ESTIMATORS.len()];
    for &correlation in &args.correlations {
        let pair = ConfoundedPairSpec::with_correlation(correlation)
            .check()
            .map_err(|error| error.to_string())?;
        let truth = pair.true_effect();
        let mut samples = vec![Vec::with_capacity(args.repeats); ESTIMATORS.len()];
        for _ in 0..args.repeats {
            let estimates = pair
                .estimate(args.trials, args.bandwidth, &mut rng)
                .map_err(|error| error.to_string())?;
            for (index, column) in samples.iter_mut().enumerate() {
                column.push(pick(&estimates, index));
            }
        }

        for (index, name) in ESTIMATORS.iter().enumerate() {
            let values = &samples[index];
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let squared: f64 = values.iter().map(|v| (v - truth).powi(2)).sum();
            let rmse = (squared / values.len() as f64).sqrt();
            table.push([
                correlation.to_string(),
                name.to_string(),
                truth.to_string(),
                format!("{mean:.4}"),
                format!("{:+.4}", mean - truth),
                format!("{rmse:.4}"),
            ]);
            bias_lines[index].push((correlation, mean - truth));
            rmse_lines[index].push((correlation, rmse));
        }
    }

    table.write(&args.out, "confounding")?;
    print!("{}", table.markdown());
    for (file, title, label, lines) in [
        (
            "bias.png",
            "bias of the estimated spike effect",
            "bias",
            bias_lines,
        ),
        (
            "rmse.png",
            "RMSE of the estimated spike effect",
            "RMSE",
            rmse_lines,
        ),
    ] {
        let chart = LineChart {
            title: format!("{title} ({} trials per estimate)", args.trials),
            x_label: "input correlation rho".into(),
            y_label: label.into(),
            log_x: false,
            y_range: None,
            series: ESTIMATORS
                .iter()
                .zip(lines)
                .map(|(name, points)| Series::new(*name, points))
                .collect(),
        };
        if let Err(message) = line_chart(&args.out.join(file), &chart) {
            eprintln!("warning: figure not written: {message}");
            break;
        }
    }
    println!(
        "wrote {} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );

    Ok(())
}
