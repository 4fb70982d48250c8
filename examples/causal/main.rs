//! Compares every gradient estimator of `spikeburn-causal` on a stochastic spiking network given
//! as JSON, against the exact gradient of the expected loss when the network is small enough to
//! enumerate.
//!
//! Run, from the repository root:
//!
//! ```text
//! cargo run --release --example causal -- --network examples/causal/diamond.json \
//!     --noise logistic:0.1 --estimator all --samples 100000
//! ```
//!
//! `--format json` prints one JSON object instead of the table: `exact_gradient` (every weight,
//! layer by layer, row-major; `null` when not enumerated), `expected_surrogate` and
//! `expected_exact_difference` (exact expectations with their cosines), and `estimators`, a map
//! from estimator name to `estimate`, `std_error`, `samples`, `forward_passes` and
//! `cosine_to_exact`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use spikeburn::Noise;
use spikeburn::causal::{
    CausalError, ENUMERATION_LIMIT, Enumeration, EstimatorKind, ExactExpectations,
    GradientEstimate, Network, NetworkSpec, Synapse, cosine,
};

/// Gradient estimators on a stochastic spiking network, next to the exact gradient.
#[derive(Debug, Parser)]
#[command(name = "causal")]
struct Args {
    /// The network description (JSON; see the spikeburn-causal README).
    #[arg(long)]
    network: PathBuf,
    /// Escape noise `family:scale` for every layer that names none, e.g. `logistic:0.1`.
    #[arg(long)]
    noise: Option<Noise>,
    /// Estimators to run, comma separated, or `all`: surrogate, exact_difference,
    /// finite_difference, spike_intervention, reinforce, doubly_robust, node_perturbation,
    /// weight_perturbation.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    estimator: Vec<String>,
    /// Monte Carlo samples per estimator.
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Exact enumeration: when the network is small enough (`auto`), or `always` (an error for
    /// larger networks), or `never`.
    #[arg(long, value_enum, default_value = "auto")]
    exact: ExactMode,
    /// Output: a markdown table or one JSON object.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExactMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// What one estimator produced: its estimate or why it is undefined here.
struct Outcome {
    name: EstimatorKind,
    result: Result<GradientEstimate, CausalError>,
}

fn run(args: &Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.network)
        .map_err(|error| format!("cannot read `{}`: {error}", args.network.display()))?;
    let network = NetworkSpec::from_json(&text)
        .and_then(|spec| spec.check(args.noise))
        .map_err(|error| format!("{}: {error}", args.network.display()))?;

    let exact = match args.exact {
        ExactMode::Never => None,
        ExactMode::Auto if network.nodes() > ENUMERATION_LIMIT => None,
        ExactMode::Auto | ExactMode::Always => Some(
            Enumeration::params()
                .check()
                .and_then(|enumeration| enumeration.run(&network))
                .map_err(|error| format!("exact enumeration refused: {error}"))?,
        ),
    };
    let exact_note = match (&exact, args.exact) {
        (Some(_), _) => None,
        (None, ExactMode::Never) => Some("exact enumeration skipped (`--exact never`)".to_string()),
        (None, _) => Some(format!(
            "exact enumeration skipped: the network has {} stochastic units (neurons times \
             steps), more than the limit of {ENUMERATION_LIMIT}",
            network.nodes()
        )),
    };

    let names: Vec<EstimatorKind> = if args.estimator.iter().any(|name| name == "all") {
        EstimatorKind::ALL.to_vec()
    } else {
        let names = args.estimator.iter().map(|name| name.parse());
        names
            .collect::<Result<_, CausalError>>()
            .map_err(|error| error.to_string())?
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let outcomes: Vec<Outcome> = names
        .into_iter()
        .map(|name| Outcome {
            name,
            result: name.estimate(&network, args.samples, &mut rng),
        })
        .collect();

    match args.format {
        Format::Json => {
            let report = json_report(&network, exact.as_ref(), exact_note.as_deref(), &outcomes);
            let text = serde_json::to_string_pretty(&report).expect("plain JSON values");
            println!("{text}");
        }
        Format::Table => print_table(&network, exact.as_ref(), exact_note.as_deref(), &outcomes),
    }

    Ok(())
}

/// A weight's label: `layer.W[post][pre]` or `layer.R[post][pre]` for recurrent weights.
fn weight_labels(network: &Network) -> Vec<String> {
    network
        .weight_ids()
        .iter()
        .map(|id| {
            let matrix = match id.synapse {
                Synapse::Feedforward => "W",
                Synapse::Recurrent => "R",
            };
            format!("{}.{matrix}[{}][{}]", id.layer, id.post, id.pre)
        })
        .collect()
}

fn cosine_to(exact: Option<&ExactExpectations>, estimate: &[f64]) -> Option<f64> {
    exact.map(|exact| cosine(estimate, exact.gradient()))
}

fn json_report(
    network: &Network,
    exact: Option<&ExactExpectations>,
    exact_note: Option<&str>,
    outcomes: &[Outcome],
) -> Value {
    let mut estimators = serde_json::Map::new();
    for outcome in outcomes {
        let entry = match &outcome.result {
            Ok(estimate) => json!({
                "estimate": estimate.estimate(),
                "std_error": estimate.std_error(),
                "samples": estimate.samples(),
                "forward_passes": estimate.forward_passes(),
                "cosine_to_exact": cosine_to(exact, estimate.estimate()),
            }),
            Err(error) => json!({ "error": error.to_string() }),
        };
        estimators.insert(outcome.name.name().to_string(), entry);
    }
    let expectation = |values: Option<&[f64]>| {
        values.map(
            |values| json!({ "gradient": values, "cosine_to_exact": cosine_to(exact, values) }),
        )
    };

    json!({
        "nodes": network.nodes(),
        "weights": weight_labels(network),
        "weight_values": network.weights(),
        "exact_note": exact_note,
        "expected_loss": exact.map(ExactExpectations::expected_loss),
        "exact_gradient": exact.map(ExactExpectations::gradient),
        "expected_surrogate": expectation(exact.map(ExactExpectations::expected_surrogate)),
        "expected_exact_difference": expectation(exact.map(ExactExpectations::exact_difference)),
        "estimators": estimators,
    })
}

fn print_table(
    network: &Network,
    exact: Option<&ExactExpectations>,
    exact_note: Option<&str>,
    outcomes: &[Outcome],
) {
    let labels = weight_labels(network);
    let values = network.weights();
    let succeeded: Vec<(&str, &GradientEstimate)> = outcomes
        .iter()
        .filter_map(|outcome| Some((outcome.name.name(), outcome.result.as_ref().ok()?)))
        .collect();

    let mut header = vec!["weight".to_string(), "value".to_string()];
    if exact.is_some() {
        header.extend([
            "exact".into(),
            "E[surrogate]".into(),
            "E[exact diff]".into(),
        ]);
    }
    header.extend(succeeded.iter().map(|(name, _)| format!("{name} (± se)")));
    println!("| {} |", header.join(" | "));
    println!("|{}", " --- |".repeat(header.len()));

    for (k, label) in labels.iter().enumerate() {
        let mut row = vec![label.clone(), format!("{:.4}", values[k])];
        if let Some(exact) = exact {
            for column in [
                exact.gradient(),
                exact.expected_surrogate(),
                exact.exact_difference(),
            ] {
                row.push(format!("{:.6}", column[k]));
            }
        }
        for (_, estimate) in &succeeded {
            let (mean, error) = (estimate.estimate()[k], estimate.std_error()[k]);
            row.push(format!("{mean:.6} ± {error:.1e}"));
        }
        println!("| {} |", row.join(" | "));
    }

    if let Some(exact) = exact {
        let mut row = vec![
            "cosine to exact".to_string(),
            String::new(),
            "1".to_string(),
        ];
        for column in [exact.expected_surrogate(), exact.exact_difference()] {
            row.push(format!("{:.4}", cosine(column, exact.gradient())));
        }
        for (_, estimate) in &succeeded {
            row.push(format!(
                "{:.4}",
                cosine(estimate.estimate(), exact.gradient())
            ));
        }
        println!("| {} |", row.join(" | "));
        println!(
            "\nexpected loss {:.6}, from {} spike configurations",
            exact.expected_loss(),
            exact.configurations()
        );
    }
    if let Some(note) = exact_note {
        println!("\n{note}");
    }
    for outcome in outcomes {
        match &outcome.result {
            Err(error) => println!("{}: not defined here: {error}", outcome.name.name()),
            Ok(estimate) if estimate.infinite_variance() => println!(
                "{}: warning: the noise gives this estimator infinite variance",
                outcome.name.name()
            ),
            Ok(estimate) if estimate.clipped() > 0 => println!(
                "{}: {} propensities clipped away from 0 and 1",
                outcome.name.name(),
                estimate.clipped()
            ),
            Ok(_) => {}
        }
    }
}
