//! Which surrogate should a network that fires under a given noise be trained with?
//!
//! Trains Yin-Yang once per (forward noise X, surrogate density Y) pair and seed: the hidden
//! neurons fire `H(x + xi)` with `xi ~ X` (escape-noise mode), or deterministically in the first
//! row, and the backward uses the density of Y. Every noise has the same peak density `p(0)`, so
//! only the shape differs. Each cell reports the test accuracy (mean and standard deviation over
//! seeds) and the mean cosine between the surrogate gradient and an exact-difference estimate of
//! the true gradient of the expected loss under X (under Y for the deterministic row).
//!
//! ```text
//! cargo run --release --example noise_matrix              # the full grid, 3 seeds
//! cargo run --release --example noise_matrix -- --quick   # one seed, tiny runs (CI)
//! ```
//!
//! Writes `results.md`/`results.csv` (one row per cell), `accuracy.md`, `alignment.md` (the
//! grids), `accuracy.png` and `alignment.png` (heatmaps) and one folder per run under `cells/`
//! into `--out`. A rerun reuses every finished cell.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use spikeburn::{Family, Firing, Noise, SpikeMode};

use common::figure::{Heatmap, heatmap};
use common::grid::{cell, cell_folder, mean_std, model, options, yin_yang};
use common::table::Table;
use common::trainer::{AlignmentOptions, GradientRule, Report};

/// Train Yin-Yang for every pair of forward noise and surrogate density.
#[derive(Debug, Parser)]
#[command(name = "noise_matrix")]
struct Args {
    /// One seed, 32 hidden neurons, two epochs on 1000 points, 10 steps: a minute in a debug
    /// build.
    #[arg(long)]
    quick: bool,
    /// Seeds per cell (default 3; 1 with --quick).
    #[arg(long)]
    seeds: Option<u64>,
    /// Epochs per run (default 8; 2 with --quick).
    #[arg(long)]
    epochs: Option<usize>,
    /// Hidden LIF neurons (default 64; 32 with --quick).
    #[arg(long)]
    hidden: Option<usize>,
    /// The common peak density p(0) of every noise.
    #[arg(long, default_value_t = 1.0)]
    peak: f64,
    /// Output folder (default `out/noise_matrix`, or `out/noise_matrix_quick` with --quick, so
    /// that the two never reuse each other's runs).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The settings the flags resolve to.
struct Plan {
    out: PathBuf,
    seeds: u64,
    epochs: usize,
    hidden: usize,
    train: Option<usize>,
    steps: usize,
    alignment: AlignmentOptions,
}

impl Args {
    fn plan(&self) -> Plan {
        let (seeds, epochs, hidden, train, steps, every) = if self.quick {
            (1, 2, 32, Some(1000), 10, 8)
        } else {
            (3, 8, 64, None, 30, 50)
        };
        let folder = if self.quick {
            "out/noise_matrix_quick"
        } else {
            "out/noise_matrix"
        };
        Plan {
            out: self.out.clone().unwrap_or_else(|| PathBuf::from(folder)),
            seeds: self.seeds.unwrap_or(seeds),
            epochs: self.epochs.unwrap_or(epochs),
            hidden: self.hidden.unwrap_or(hidden),
            train,
            steps,
            alignment: AlignmentOptions {
                every,
                samples: 32,
                replicas: 4,
            },
        }
    }
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let plan = args.plan();
    if plan.seeds == 0 || plan.epochs == 0 || plan.hidden == 0 {
        return Err("--seeds, --epochs and --hidden must be positive".into());
    }
    let noise = |family| Noise::with_peak(family, args.peak).map_err(|e| e.to_string());
    let device = spikeburn::device("ndarray").map_err(|e| e.to_string())?;
    common::create_folder(&plan.out)?;

    // Rows: deterministic, then each forward noise; columns: each surrogate.
    let mut rows: Vec<Option<Family>> = vec![None];
    rows.extend(Family::ALL.map(Some));
    let row_name = |row: Option<Family>| row.map_or("deterministic", Family::name);
    let clock = Instant::now();
    let total = rows.len() * Family::ALL.len() * plan.seeds as usize;
    let mut done = 0;
    let mut results = Vec::new();
    for &row in &rows {
        for column in Family::ALL {
            let surrogate = noise(column)?;
            let firing = match row {
                None => Firing::new(surrogate, SpikeMode::Deterministic),
                Some(forward) => {
                    Firing::new(surrogate, SpikeMode::EscapeNoise).with_sampling(noise(forward)?)
                }
            };
            let model = model(plan.hidden, firing);
            let mut reports = Vec::new();
            for seed in 1..=plan.seeds {
                let splits = yin_yang(seed, plan.steps, plan.train)?;
                let options = options(plan.epochs, seed, GradientRule::Surrogate, plan.alignment);
                let name = format!("{}_{}_seed{seed}", row_name(row), column.name());
                let folder = cell_folder(&plan.out, &name);
                reports.push(cell(&folder, &model, &options, &splits, &device)?);
                done += 1;
                eprintln!(
                    "[{done}/{total}] {name}: test {:.1}%, {:.0} s so far",
                    100.0 * reports.last().map_or(0.0, |r| r.test_accuracy),
                    clock.elapsed().as_secs_f64()
                );
            }
            results.push((row_name(row), column.name(), reports));
        }
    }

    write_results(args, &plan, &rows, &results, clock.elapsed().as_secs_f64())
}

type Results<'a> = [(&'a str, &'a str, Vec<Report>)];

fn write_results(
    args: &Args,
    plan: &Plan,
    rows: &[Option<Family>],
    results: &Results,
    seconds: f64,
) -> Result<(), String> {
    let accuracy = |reports: &[Report]| {
        let values: Vec<f64> = reports.iter().map(|r| 100.0 * r.test_accuracy).collect();
        mean_std(&values)
    };
    let alignment = |reports: &[Report], layer: usize| {
        let values: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.mean_alignment.as_ref().map(|a| a[layer]))
            .collect();
        mean_std(&values).0
    };

    let mut table = Table::new([
        "forward noise",
        "surrogate",
        "test accuracy %",
        "std",
        "alignment hidden",
        "alignment readout",
    ]);
    for (row, column, reports) in results {
        let (mean, std) = accuracy(reports);
        table.push([
            row.to_string(),
            column.to_string(),
            format!("{mean:.2}"),
            format!("{std:.2}"),
            format!("{:.3}", alignment(reports, 0)),
            format!("{:.3}", alignment(reports, 1)),
        ]);
    }
    table.write(&plan.out, "results")?;

    let columns: Vec<String> = Family::ALL.iter().map(|f| f.name().to_string()).collect();
    let row_names: Vec<String> = rows
        .iter()
        .map(|r| r.map_or("deterministic", Family::name).to_string())
        .collect();
    let grid = |value: &dyn Fn(&[Report]) -> String| {
        let mut grid =
            Table::new(std::iter::once("forward \\ surrogate".to_string()).chain(columns.clone()));
        for (r, name) in row_names.iter().enumerate() {
            let cells = &results[r * columns.len()..(r + 1) * columns.len()];
            grid.push(std::iter::once(name.clone()).chain(cells.iter().map(|c| value(&c.2))));
        }
        grid
    };
    let accuracy_grid = grid(&|reports| {
        let (mean, std) = accuracy(reports);
        format!("{mean:.1} ± {std:.1}")
    });
    let alignment_grid = grid(&|reports| format!("{:.3}", alignment(reports, 0)));
    accuracy_grid.write(&plan.out, "accuracy")?;
    alignment_grid.write(&plan.out, "alignment")?;

    let values = |value: &dyn Fn(&[Report]) -> f64| -> Vec<Vec<Option<f64>>> {
        (0..row_names.len())
            .map(|r| {
                let cells = &results[r * columns.len()..(r + 1) * columns.len()];
                cells.iter().map(|c| Some(value(&c.2))).collect()
            })
            .collect()
    };
    let settings = format!(
        "{} hidden, {} epochs, {} seed(s), peak density {}",
        plan.hidden, plan.epochs, plan.seeds, args.peak
    );
    let figures = [
        (
            "accuracy.png",
            format!("Yin-Yang test accuracy %, mean over seeds\n{settings}"),
            values(&|reports| accuracy(reports).0),
            (33.0, 100.0),
            1,
        ),
        (
            "alignment.png",
            format!("Alignment of the hidden weights' surrogate gradient\n{settings}"),
            values(&|reports| alignment(reports, 0)),
            (0.0, 1.0),
            2,
        ),
    ];
    for (file, title, values, limits, decimals) in figures {
        // The colour scale spans the values found, within the quantity's possible range.
        let found = values.iter().flatten().flatten().copied();
        let (low, high) = found.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
            (low.min(v), high.max(v))
        });
        let range = if low < high {
            (low.max(limits.0), high.min(limits.1))
        } else {
            limits
        };
        let map = Heatmap {
            title,
            row_label: "forward noise".into(),
            column_label: "surrogate density".into(),
            rows: row_names.clone(),
            columns: columns.clone(),
            values,
            range,
            decimals,
        };
        if let Err(message) = heatmap(&plan.out.join(file), &map) {
            eprintln!("warning: {file} not written: {message}");
        }
    }

    println!("Test accuracy % (mean ± std over seeds), {settings}:\n");
    println!("{}", accuracy_grid.markdown());
    println!("Mean alignment of the hidden-layer gradient:\n");
    println!("{}", alignment_grid.markdown());
    println!(
        "{} runs in {seconds:.0} s; wrote {}",
        results.iter().map(|r| r.2.len()).sum::<usize>(),
        plan.out.display()
    );
    Ok(())
}
