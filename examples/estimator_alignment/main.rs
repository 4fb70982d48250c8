//! How well each gradient estimator points along the exact gradient of the expected loss, as the
//! escape noise shrinks (THEORY.md claim C3), for every noise family, on the diamond network and
//! on a random 4-8-8-1 network.
//!
//! Families are compared at equal peak height `p(0)`: the scale on the x axis is that of the
//! logistic noise, and every other family takes the scale that gives it the same peak (its own
//! scale is in the CSV).
//!
//! Run, from the repository root (about a minute in release mode):
//!
//! ```text
//! cargo run --release --example estimator_alignment -- --out out/estimator_alignment
//! ```
//!
//! Writes `alignment.csv` (every network, family, scale and estimator), `alignment.md` (the
//! logistic family and the expected surrogate of every family), and per network
//! `<network>_estimators.png` (cosine against scale for each estimator, logistic noise) and
//! `<network>_families.png` (the expected surrogate gradient's cosine for each family).

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::causal::benchmarks::{diamond, layered};
use spikeburn::causal::{Enumeration, EstimatorKind, Network, cosine};
use spikeburn::{Family, Noise};

use common::figure::{LineChart, Series, line_chart};
use common::table::Table;

/// Cosine of each estimator to the exact gradient against the noise scale.
#[derive(Debug, Parser)]
struct Args {
    /// Folder for the tables and figures.
    #[arg(long, default_value = "out/estimator_alignment")]
    out: PathBuf,
    /// Monte Carlo samples per estimate.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Noise scales (of the logistic family; the others at equal peak), comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.03,0.05,0.1,0.2,0.3,0.5,1,2,3"
    )]
    scales: Vec<f64>,
    /// Seed of the noise and of the 4-8-8-1 network's weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The label of an exact expectation in the tables, next to the estimator names.
const EXPECTED_SURROGATE: &str = "expected_surrogate";
const EXPECTED_DIFFERENCE: &str = "expected_exact_difference";

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// One measured cosine.
struct Point {
    network: &'static str,
    family: Family,
    scale: f64,
    family_scale: f64,
    method: String,
    cosine: Option<f64>,
}

fn run(args: &Args) -> Result<(), String> {
    if args
        .scales
        .iter()
        .any(|&scale| !(scale > 0.0 && scale.is_finite()))
    {
        return Err(format!(
            "`--scales` must be positive, got {:?}",
            args.scales
        ));
    }
    common::create_folder(&args.out)?;
    let started = Instant::now();

    let placeholder = Noise::logistic(1.0).expect("a valid scale");
    let deep = layered(&[4, 8, 8, 1], args.seed)
        .and_then(|spec| spec.check(Some(placeholder)))
        .map_err(|error| error.to_string())?;
    let networks = [("diamond", diamond(placeholder)), ("4-8-8-1", deep)];

    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut points = Vec::new();
    for (name, network) in &networks {
        for family in Family::ALL {
            for &scale in &args.scales {
                let peak = Family::Logistic.unit_peak() / scale;
                let noise = Noise::with_peak(family, peak).map_err(|error| error.to_string())?;
                measure(
                    name,
                    &network.with_noise(noise),
                    noise,
                    scale,
                    args.samples,
                    &mut rng,
                    &mut points,
                )?;
            }
            eprintln!(
                "{name} {family}: done after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }

    write_tables(args, &points)?;
    for (name, _) in &networks {
        if let Err(message) = write_figures(args, name, &points) {
            eprintln!("warning: figures not written: {message}");
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

fn measure(
    name: &'static str,
    network: &Network,
    noise: Noise,
    scale: f64,
    samples: usize,
    rng: &mut StdRng,
    points: &mut Vec<Point>,
) -> Result<(), String> {
    let exact = Enumeration::params()
        .check()
        .and_then(|enumeration| enumeration.run(network))
        .map_err(|error| error.to_string())?;
    let truth = exact.gradient();
    let mut push = |method: &str, cosine: Option<f64>| {
        points.push(Point {
            network: name,
            family: noise.family(),
            scale,
            family_scale: noise.scale(),
            method: method.to_string(),
            cosine,
        });
    };
    push(
        EXPECTED_SURROGATE,
        Some(cosine(exact.expected_surrogate(), truth)),
    );
    push(
        EXPECTED_DIFFERENCE,
        Some(cosine(exact.exact_difference(), truth)),
    );
    for kind in EstimatorKind::ALL {
        // Undefined cases (node perturbation with uniform noise) are recorded as missing.
        let estimate = kind.estimate(network, samples, rng).ok();
        push(kind.name(), estimate.map(|e| cosine(e.estimate(), truth)));
    }

    Ok(())
}

fn methods() -> Vec<String> {
    let mut methods = vec![
        EXPECTED_SURROGATE.to_string(),
        EXPECTED_DIFFERENCE.to_string(),
    ];
    methods.extend(EstimatorKind::ALL.map(|kind| kind.name().to_string()));
    methods
}

fn format_cosine(cosine: Option<f64>) -> String {
    cosine.map_or_else(|| "n/a".to_string(), |c| format!("{c:.4}"))
}

fn write_tables(args: &Args, points: &[Point]) -> Result<(), String> {
    let mut long = Table::new([
        "network",
        "family",
        "logistic_scale",
        "family_scale",
        "method",
        "cosine_to_exact",
    ]);
    for point in points {
        long.push([
            point.network.to_string(),
            point.family.to_string(),
            point.scale.to_string(),
            point.family_scale.to_string(),
            point.method.clone(),
            point.cosine.map_or_else(String::new, |c| c.to_string()),
        ]);
    }
    std::fs::write(args.out.join("alignment.csv"), long.csv())
        .map_err(|error| format!("cannot write alignment.csv: {error}"))?;

    // The summary: rows (network, method) for logistic noise, then (network, family) for the
    // expected surrogate; one column per scale.
    let mut header = vec!["network".to_string(), "rows".to_string()];
    header.extend(args.scales.iter().map(|scale| format!("scale {scale}")));
    let mut summary = Table::new(header);
    let find = |network: &str, family: Family, method: &str, scale: f64| {
        points.iter().find(|p| {
            p.network == network && p.family == family && p.method == method && p.scale == scale
        })
    };
    for network in ["diamond", "4-8-8-1"] {
        for method in methods() {
            let mut row = vec![network.to_string(), format!("{method} (logistic)")];
            for &scale in &args.scales {
                let point = find(network, Family::Logistic, &method, scale);
                row.push(format_cosine(point.and_then(|p| p.cosine)));
            }
            summary.push(row);
        }
        for family in Family::ALL {
            let mut row = vec![
                network.to_string(),
                format!("{EXPECTED_SURROGATE} ({family})"),
            ];
            for &scale in &args.scales {
                let point = find(network, family, EXPECTED_SURROGATE, scale);
                row.push(format_cosine(point.and_then(|p| p.cosine)));
            }
            summary.push(row);
        }
    }
    std::fs::write(args.out.join("alignment.md"), summary.markdown())
        .map_err(|error| format!("cannot write alignment.md: {error}"))?;
    print!("{}", summary.markdown());

    Ok(())
}

fn write_figures(args: &Args, network: &str, points: &[Point]) -> Result<(), String> {
    let series = |family: Family, method: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| p.network == network && p.family == family && p.method == method)
            .filter_map(|p| Some((p.scale, p.cosine?)))
            .collect()
    };

    let estimators = LineChart {
        title: format!("{network}: cosine to the exact gradient, logistic noise"),
        x_label: "noise scale".into(),
        y_label: "cosine to exact gradient".into(),
        log_x: true,
        y_range: Some((-0.2, 1.05)),
        series: methods()
            .iter()
            .map(|method| Series::new(method.clone(), series(Family::Logistic, method)))
            .collect(),
    };
    line_chart(
        &args.out.join(format!("{network}_estimators.png")),
        &estimators,
    )?;

    let families = LineChart {
        title: format!("{network}: expected surrogate gradient by noise family"),
        x_label: "noise scale (logistic; others at equal peak)".into(),
        y_label: "cosine to exact gradient".into(),
        log_x: true,
        y_range: Some((-0.2, 1.05)),
        series: Family::ALL
            .iter()
            .map(|&family| Series::new(family.name(), series(family, EXPECTED_SURROGATE)))
            .collect(),
    };
    line_chart(&args.out.join(format!("{network}_families.png")), &families)
}
