//! Node perturbation against the surrogate gradient as the layer widens (THEORY.md claim C6):
//! at a fixed budget of M samples, node perturbation's expected cosine to the true gradient of
//! N units falls like `(1 + (N + 1) / M)^(-1/2)`, while the surrogate gradient's does not.
//!
//! Run, from the repository root (about half a minute in release mode):
//!
//! ```text
//! cargo run --release --example perturbation_width -- --out out/perturbation_width
//! ```
//!
//! Writes `width.csv`, `width.md` and `width.png`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::Noise;
use spikeburn::causal::benchmarks::WideReadout;
use spikeburn::causal::{Baseline, NodePerturbation, Propagation, PropagationMode, cosine};

use common::figure::{LineChart, Series, line_chart};
use common::table::Table;

/// Cosine to the true gradient against the number of units, at a fixed sample budget.
#[derive(Debug, Parser)]
struct Args {
    /// Folder for the table and figure.
    #[arg(long, default_value = "out/perturbation_width")]
    out: PathBuf,
    /// Samples M per estimate.
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// Independent estimates averaged per width.
    #[arg(long, default_value_t = 200)]
    repeats: usize,
    /// Layer widths N, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32,64,128,256"
    )]
    widths: Vec<usize>,
    /// Escape noise of every unit, `family:scale`.
    #[arg(long, default_value = "logistic:0.5")]
    noise: Noise,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// Mean and standard error of the mean.
fn mean_and_error(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (variance / n).sqrt())
}

fn run(args: &Args) -> Result<(), String> {
    if args.samples < 2 || args.repeats < 2 || args.widths.contains(&0) {
        return Err("`--samples` and `--repeats` must be at least 2 and widths positive".into());
    }
    common::create_folder(&args.out)?;
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(args.seed);

    let mut table = Table::new([
        "width N",
        "samples M",
        "node perturbation cosine",
        "± se",
        "predicted (1 + (N+1)/M)^(-1/2)",
        "surrogate cosine",
        "± se",
    ]);
    let (mut perturbation_line, mut surrogate_line, mut predicted_line) = (vec![], vec![], vec![]);
    let (mut perturbation_errors, mut surrogate_errors) = (vec![], vec![]);
    for &width in &args.widths {
        let wide = WideReadout::new(width);
        let (network, truth) = (wide.network(args.noise), wide.gradient(args.noise));
        let perturbation = NodePerturbation::params()
            .samples(args.samples)
            .baseline(Baseline::Constant(wide.expected_loss(args.noise)))
            .check()
            .map_err(|error| error.to_string())?;
        let surrogate = Propagation::params()
            .samples(args.samples)
            .mode(PropagationMode::Linearised)
            .check()
            .map_err(|error| error.to_string())?;

        let (mut np, mut sg) = (vec![], vec![]);
        for _ in 0..args.repeats {
            let estimate = perturbation.estimate(&network, &mut rng);
            np.push(cosine(
                estimate.map_err(|e| e.to_string())?.estimate(),
                &truth,
            ));
            let estimate = surrogate.estimate(&network, &mut rng);
            sg.push(cosine(
                estimate.map_err(|e| e.to_string())?.estimate(),
                &truth,
            ));
        }
        let (np, np_error) = mean_and_error(&np);
        let (sg, sg_error) = mean_and_error(&sg);
        let predicted = (1.0 + (width as f64 + 1.0) / args.samples as f64).powf(-0.5);
        table.push([
            width.to_string(),
            args.samples.to_string(),
            format!("{np:.4}"),
            format!("{np_error:.4}"),
            format!("{predicted:.4}"),
            format!("{sg:.4}"),
            format!("{sg_error:.4}"),
        ]);
        perturbation_line.push((width as f64, np));
        perturbation_errors.push(np_error);
        surrogate_line.push((width as f64, sg));
        surrogate_errors.push(sg_error);
        predicted_line.push((width as f64, predicted));
    }

    table.write(&args.out, "width")?;
    print!("{}", table.markdown());
    let chart = LineChart {
        title: format!(
            "cosine to the true gradient, M = {} samples, {}",
            args.samples, args.noise
        ),
        x_label: "units N".into(),
        y_label: "mean cosine to true gradient".into(),
        log_x: true,
        y_range: Some((0.0, 1.05)),
        series: vec![
            Series {
                errors: Some(perturbation_errors),
                ..Series::new("node perturbation", perturbation_line)
            },
            Series {
                dashed: true,
                ..Series::new("(1 + (N+1)/M)^(-1/2)", predicted_line)
            },
            Series {
                errors: Some(surrogate_errors),
                ..Series::new("surrogate gradient", surrogate_line)
            },
        ],
    };
    if let Err(message) = line_chart(&args.out.join("width.png"), &chart) {
        eprintln!("warning: figure not written: {message}");
    }
    println!(
        "wrote {} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );

    Ok(())
}
