//! THEORY.md claim C3 on a trained network: how the surrogate gradient's alignment with the true
//! gradient of the expected loss changes with the escape-noise scale.
//!
//! Loads a trained Yin-Yang model from a trainer's output folder and, for each logistic noise
//! scale, lets its hidden neurons fire under that noise. On a fixed batch of test inputs it then
//! averages, over many noise samples, Burn's surrogate gradient (the trainer's backward, reset
//! detached) and the exact-difference propagation of the causal estimators (the true-gradient
//! estimate), each in two independent halves whose agreement says how precise it is.
//!
//! ```text
//! cargo run --release --example yin_yang -- --out out/yin_yang
//! cargo run --release --example trained_alignment -- --model out/yin_yang
//! ```
//!
//! Writes `alignment.md`/`alignment.csv` and `alignment.png` into `--out`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use burn::module::Module;
use burn::tensor::Device;
use clap::Parser;
use spikeburn::bridge::{CausalMlp, LinearGradient, autodiff_gradients, labels, sequences};
use spikeburn::causal::{PropagationMode, SpikeIntervention, cosine};
use spikeburn::data::{SpikeBatch, SpikeBatcher, YinYangDataset, YinYangEncoding, yin_yang_splits};
use spikeburn::nn::loss::{cross_entropy, max_over_time};
use spikeburn::nn::{SpikingMlp, SpikingMlpConfig};
use spikeburn::{Firing, Noise, SpikeMode};

use common::figure::{LineChart, Series, line_chart};
use common::table::Table;
use common::trainer::{Report, load};

/// Surrogate against true gradient on a trained Yin-Yang model, across noise scales.
#[derive(Debug, Parser)]
#[command(name = "trained_alignment")]
struct Args {
    /// A Yin-Yang trainer's output folder (with `report.json` and `checkpoint/`).
    #[arg(long, default_value = "out/yin_yang")]
    model: PathBuf,
    /// Logistic noise scales, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,0.5,0.25,0.1,0.05,0.025"
    )]
    scales: Vec<f64>,
    /// Test inputs in the batch.
    #[arg(long, default_value_t = 32)]
    inputs: usize,
    /// Noise samples per input for each estimate (split into two halves).
    #[arg(long, default_value_t = 64)]
    replicas: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scales at which exact-difference propagation is itself checked against the unbiased
    /// spike-intervention estimator (slow: every spike is re-simulated both ways).
    #[arg(long, value_delimiter = ',', default_value = "1,0.25,0.1,0.05")]
    check_scales: Vec<f64>,
    /// Inputs for that check.
    #[arg(long, default_value_t = 4)]
    check_inputs: usize,
    /// Noise samples per input for the spike-intervention estimate (split into two halves).
    #[arg(long, default_value_t = 16)]
    check_samples: usize,
    /// Output folder.
    #[arg(long, default_value = "out/trained_alignment")]
    out: PathBuf,
}

/// The measurements at one noise scale.
struct ScalePoint {
    scale: f64,
    /// Surrogate against exact difference, per `Linear` layer.
    cosines: Vec<f64>,
    /// The exact-difference estimate's consistency, hidden layer.
    consistency: f64,
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

/// The mean of a list of per-layer gradients.
fn mean(parts: &[Vec<LinearGradient>]) -> Vec<Vec<f64>> {
    let layers = parts[0].len();
    (0..layers)
        .map(|layer| {
            let mut total = parts[0][layer].flat();
            for part in &parts[1..] {
                for (t, v) in total.iter_mut().zip(part[layer].flat()) {
                    *t += v;
                }
            }
            total.iter().map(|t| t / parts.len() as f64).collect()
        })
        .collect()
}

fn run(args: &Args) -> Result<(), String> {
    if args.replicas < 2 || args.inputs == 0 || args.scales.is_empty() {
        return Err("--replicas must be at least 2, --inputs and --scales non-empty".into());
    }
    let report_path = args.model.join("report.json");
    let text = std::fs::read_to_string(&report_path).map_err(|e| {
        format!(
            "cannot read `{}`: {e}; train a model first",
            report_path.display()
        )
    })?;
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` is not a trainer report: {e}", report_path.display()))?;
    if report.task != "yin_yang" {
        return Err(format!(
            "`{}` is a {} run, expected yin_yang",
            args.model.display(),
            report.task
        ));
    }
    let config: SpikingMlpConfig = serde_json::from_value(report.model.clone())
        .map_err(|e| format!("the report's model is not a SpikingMlp config: {e}"))?;
    let run_config: serde_json::Value = std::fs::read_to_string(args.model.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let encoding = &run_config["data"]["encoding"];
    let steps = match (encoding["kind"].as_str(), encoding["steps"].as_u64()) {
        (Some("current"), Some(steps)) => steps,
        _ => {
            return Err(
                "this experiment needs a run with the current encoding (`config.json`)".into(),
            );
        }
    };

    let device = spikeburn::device("ndarray")
        .map_err(|e| e.to_string())?
        .autodiff();
    let trained: SpikingMlp = config
        .init(&device)
        .try_load_file(args.model.join("checkpoint").join("model.bpk"))
        .map_err(|e| format!("cannot load the model: {e}"))?;
    let test = yin_yang_splits(report.options.seed).test;
    let encoding = YinYangEncoding::Current {
        steps: steps as usize,
    };
    let test = YinYangDataset::new(test, encoding).map_err(|e| e.to_string())?;
    let indices: Vec<usize> = (0..args.inputs.min(1000)).collect();
    let batch = load(&SpikeBatcher, &test, &indices, &device)?;
    let (inputs, targets) = (sequences(batch.input.clone()), labels(batch.labels.clone()));
    common::create_folder(&args.out)?;

    let mut table = Table::new([
        "logistic scale",
        "cosine hidden",
        "cosine readout",
        "surrogate consistency hidden",
        "reference consistency hidden",
        "hidden firing rate",
    ]);
    let mut points = Vec::new();
    let clock = Instant::now();
    for &scale in &args.scales {
        let noise = Noise::logistic(scale).map_err(|e| e.to_string())?;
        let model = with_noise(&trained, noise);
        let half = args.replicas / 2;

        // Burn's surrogate gradient, averaged over noise samples in two halves.
        device.seed(args.seed);
        let mut surrogate = Vec::new();
        let mut rate = 0.0;
        for _ in 0..2 {
            let mut passes = Vec::new();
            for _ in 0..half {
                let output = model.forward(batch.input.clone());
                rate += output.hidden_spikes[0].clone().mean().into_scalar::<f32>() as f64;
                let loss = cross_entropy(max_over_time(output.membrane), batch.labels.clone());
                passes.push(autodiff_gradients(&model, &loss.backward()));
            }
            surrogate.push(mean(&passes));
        }
        rate /= (2 * half) as f64;

        // The exact-difference estimate, two independent halves.
        let view = CausalMlp::new(&model).map_err(|e| e.to_string())?;
        let mut reference = Vec::new();
        for part in 0..2 {
            let seed = args.seed.wrapping_mul(1000) + part;
            let estimate = view
                .estimate(
                    &inputs,
                    &targets,
                    half,
                    PropagationMode::ExactDifference,
                    seed,
                )
                .map_err(|e| e.to_string())?;
            reference.push(mean(&[estimate]));
        }

        let layers = surrogate[0].len();
        let both = |halves: &[Vec<Vec<f64>>], layer: usize| -> Vec<f64> {
            halves[0][layer]
                .iter()
                .zip(&halves[1][layer])
                .map(|(a, b)| a + b)
                .collect()
        };
        let cosines: Vec<f64> = (0..layers)
            .map(|l| cosine(&both(&surrogate, l), &both(&reference, l)))
            .collect();
        let surrogate_consistency = cosine(&surrogate[0][0], &surrogate[1][0]);
        let reference_consistency = cosine(&reference[0][0], &reference[1][0]);
        eprintln!(
            "logistic {scale}: cosine {cosines:.3?}, consistency surrogate {surrogate_consistency:.3} reference {reference_consistency:.3}, rate {rate:.3}, {:.0} s",
            clock.elapsed().as_secs_f64()
        );
        table.push([
            scale.to_string(),
            format!("{:.3}", cosines[0]),
            format!("{:.3}", cosines[layers - 1]),
            format!("{surrogate_consistency:.3}"),
            format!("{reference_consistency:.3}"),
            format!("{rate:.3}"),
        ]);
        points.push(ScalePoint {
            scale,
            cosines,
            consistency: reference_consistency,
        });
    }
    table.write(&args.out, "alignment")?;
    let (check, checked) = check_against_interventions(args, &trained, &batch, &device)?;
    check.write(&args.out, "intervention_check")?;

    let line = |name: &str, value: &dyn Fn(&ScalePoint) -> f64| {
        Series::new(name, points.iter().map(|p| (p.scale, value(p))).collect())
    };
    let mut consistency = line("reference consistency (hidden)", &|p| p.consistency);
    consistency.dashed = true;
    let chart = LineChart {
        title: format!(
            "trained Yin-Yang: surrogate vs true gradient ({} inputs, {} samples)",
            indices.len(),
            args.replicas
        ),
        x_label: "logistic noise scale".into(),
        y_label: "cosine".into(),
        log_x: true,
        y_range: Some((-0.2, 1.0)),
        series: vec![
            line("hidden weights vs exact difference", &|p| p.cosines[0]),
            line("readout weights vs exact difference", &|p| {
                p.cosines[p.cosines.len() - 1]
            }),
            consistency,
            Series::new(
                format!(
                    "hidden weights vs spike interventions ({} inputs)",
                    args.check_inputs
                ),
                checked,
            ),
        ],
    };
    if let Err(message) = line_chart(&args.out.join("alignment.png"), &chart) {
        eprintln!("warning: alignment.png not written: {message}");
    }
    println!("{}", table.markdown());
    println!("Against the unbiased spike-intervention estimate, hidden weights:\n");
    println!("{}", check.markdown());
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The hidden model firing under `noise` in escape mode.
fn with_noise(trained: &SpikingMlp, noise: Noise) -> SpikingMlp {
    let mut model = trained.clone();
    for lif in &mut model.lifs {
        lif.firing = Firing::new(noise, SpikeMode::EscapeNoise);
    }
    model
}

/// On the first `--check-inputs` inputs, the unbiased spike-intervention estimate of the hidden
/// weights' gradient against the exact-difference estimate and Burn's surrogate gradient (both
/// averaged over `4 --replicas` noise samples), with the intervention estimate's consistency
/// between its halves.
fn check_against_interventions(
    args: &Args,
    trained: &SpikingMlp,
    batch: &SpikeBatch,
    device: &Device,
) -> Result<(Table, Vec<(f64, f64)>), String> {
    let mut points = Vec::new();
    let mut table = Table::new([
        "logistic scale",
        "cosine(exact difference, intervention)",
        "cosine(surrogate, intervention)",
        "intervention consistency",
        "inputs",
        "intervention samples per input",
    ]);
    let count = args.check_inputs.min(batch.labels.dims()[0]);
    let input = batch.input.clone().narrow(1, 0, count);
    let labels_tensor = batch.labels.clone().narrow(0, 0, count);
    let (inputs, targets) = (sequences(input.clone()), labels(labels_tensor.clone()));
    let (inputs, targets) = (&inputs[..], &targets[..]);
    for &scale in &args.check_scales {
        let noise = Noise::logistic(scale).map_err(|e| e.to_string())?;
        let model = with_noise(trained, noise);
        device.seed(args.seed);
        let passes: Vec<_> = (0..4 * args.replicas)
            .map(|_| {
                let output = model.forward(input.clone());
                let loss = cross_entropy(max_over_time(output.membrane), labels_tensor.clone());
                autodiff_gradients(&model, &loss.backward())
            })
            .collect();
        let surrogate = mean(&passes);
        let view = CausalMlp::new(trained)
            .map_err(|e| e.to_string())?
            .with_noise(noise);
        let exact = view
            .estimate(
                inputs,
                targets,
                4 * args.replicas,
                PropagationMode::ExactDifference,
                args.seed,
            )
            .map_err(|e| e.to_string())?;
        // The intervention estimates the first layer's weights in the estimators' [post][pre]
        // order, `[units][inputs]`.
        let (units, fan_in) = (trained.lifs[0].neurons, trained.inputs);
        let half = (args.check_samples / 2).max(2);
        let halves = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2_u64)
                .map(|part| {
                    let view = &view;
                    scope.spawn(move || {
                        let estimator = SpikeIntervention::params()
                            .samples(half)
                            .check()
                            .map_err(|e| e.to_string())?;
                        let mut total = vec![0.0; units * fan_in];
                        for (index, (input, &target)) in inputs.iter().zip(targets).enumerate() {
                            let network = view.network(input, target).map_err(|e| e.to_string())?;
                            let seed = args.seed ^ (part << 32) ^ index as u64;
                            let mut rng = StdRng::seed_from_u64(seed);
                            let estimate = estimator
                                .estimate(&network, &mut rng)
                                .map_err(|e| e.to_string())?;
                            for post in 0..units {
                                for pre in 0..fan_in {
                                    // To Burn's [inputs, outputs] layout.
                                    total[pre * units + post] +=
                                        estimate.estimate()[post * fan_in + pre];
                                }
                            }
                        }
                        Ok::<_, String>(total)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an intervention thread panicked"))
                .collect::<Result<Vec<_>, String>>()
        })?;
        let both: Vec<f64> = halves[0]
            .iter()
            .zip(&halves[1])
            .map(|(a, b)| a + b)
            .collect();
        let agreement = cosine(&exact[0].weight, &both);
        // The surrogate's first layer is weight then bias; the intervention has the weight.
        let surrogate_agreement = cosine(&surrogate[0][..units * fan_in], &both);
        let consistency = cosine(&halves[0], &halves[1]);
        eprintln!(
            "check at logistic {scale}: exact difference {agreement:.3}, surrogate {surrogate_agreement:.3}, consistency {consistency:.3}"
        );
        points.push((scale, surrogate_agreement));
        table.push([
            scale.to_string(),
            format!("{agreement:.3}"),
            format!("{surrogate_agreement:.3}"),
            format!("{consistency:.3}"),
            count.to_string(),
            (2 * half).to_string(),
        ]);
    }
    Ok((table, points))
}
