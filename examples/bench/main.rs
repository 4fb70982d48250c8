//! Speed of Spikeburn's spiking layers on the workloads of the PyTorch reference
//! (`../shared/bench/reference.py`), as a markdown table.
//!
//! Workloads (time-major input, Bernoulli(0.05) spikes, LIF decay exp(-1/20), threshold 1,
//! subtract reset with its gradient, fast-sigmoid surrogate of slope 25 at unit peak, logits the
//! maximum over time of a leaky readout, cross-entropy on random labels, Adam at lr 1e-3):
//!
//! | name | network | steps | batch |
//! | --- | --- | --- | --- |
//! | W1 | 700 → 256 LIF → 20 readout | 100 | 64 |
//! | W2 | W1 with a 256 × 256 recurrent hidden layer | 100 | 64 |
//! | W3 | 700 → 1024 LIF → 1024 LIF → 20 readout | 100 | 32 |
//! | W1inf | W1, forward only | 100 | 256 |
//! | ON1024, ON4096 | Linear(n, n) + LIF, the Open Neuromorphic benchmark | 500 | 16 |
//!
//! ```text
//! cargo run --release --example bench                       # every workload on ndarray
//! cargo run --release --example bench -- --workload W1 --iterations 20
//! cargo run --release --features flex --example bench -- --device flex
//! ```
//!
//! For each workload the table gives the median, minimum and maximum seconds of a forward pass
//! and of a training iteration (forward, backward, Adam step), the samples per second of the
//! forward pass, and the growth of the process's peak resident memory during the workload.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::process::ExitCode;
use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use clap::Parser;
use spikeburn::nn::loss::{cross_entropy, max_over_time};
use spikeburn::nn::neuron::{
    LeakyReadout, LeakyReadoutConfig, Lif, LifConfig, RecurrentLif, RecurrentLifConfig,
};
use spikeburn::{Firing, Noise, SpikeMode, SurrogateScale};

use common::table::Table;

/// Time Spikeburn on the reference workloads.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Workloads, comma separated: W1, W2, W3, W1inf, ON1024, ON4096 (default: all).
    #[arg(long, value_delimiter = ',')]
    workload: Option<Vec<String>>,
    /// Backend: ndarray, flex or wgpu.
    #[arg(long, default_value = "ndarray")]
    device: String,
    /// Timed iterations per measurement (after two warm-up iterations); the large workloads use
    /// a fifth of it, at least 3.
    #[arg(long, default_value_t = 10)]
    iterations: usize,
}

/// One workload of the reference.
#[derive(Debug, Clone, Copy)]
struct Workload {
    name: &'static str,
    inputs: usize,
    hidden: &'static [usize],
    recurrent: bool,
    /// `None`: no readout, the loss reads the last hidden layer's membrane-free spike counts.
    outputs: Option<usize>,
    steps: usize,
    batch: usize,
    train: bool,
    large: bool,
}

const WORKLOADS: [Workload; 6] = [
    Workload {
        name: "W1",
        inputs: 700,
        hidden: &[256],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 64,
        train: true,
        large: false,
    },
    Workload {
        name: "W2",
        inputs: 700,
        hidden: &[256],
        recurrent: true,
        outputs: Some(20),
        steps: 100,
        batch: 64,
        train: true,
        large: false,
    },
    Workload {
        name: "W3",
        inputs: 700,
        hidden: &[1024, 1024],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 32,
        train: true,
        large: true,
    },
    Workload {
        name: "W1inf",
        inputs: 700,
        hidden: &[256],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 256,
        train: false,
        large: false,
    },
    Workload {
        name: "ON1024",
        inputs: 1024,
        hidden: &[1024],
        recurrent: false,
        outputs: None,
        steps: 500,
        batch: 16,
        train: true,
        large: true,
    },
    Workload {
        name: "ON4096",
        inputs: 4096,
        hidden: &[4096],
        recurrent: false,
        outputs: None,
        steps: 500,
        batch: 16,
        train: true,
        large: true,
    },
];

/// The benchmark network: `Linear` into LIF (or recurrent LIF) layers, then a readout.
#[derive(Module, Debug)]
struct Net {
    linears: Vec<Linear>,
    lifs: Vec<Lif>,
    recurrent: Vec<RecurrentLif>,
    readout: Option<LeakyReadout>,
}

impl Net {
    fn new(workload: &Workload, device: &Device) -> Self {
        let noise = Noise::snntorch_fast_sigmoid(25.0).expect("a valid slope");
        let firing =
            Firing::new(noise, SpikeMode::Deterministic).with_scale(SurrogateScale::UnitPeak);
        let decay = (-1.0_f64 / 20.0).exp();
        let mut widths = vec![workload.inputs];
        widths.extend(workload.hidden);
        widths.extend(workload.outputs);
        let linears = widths
            .windows(2)
            .map(|pair| {
                LinearConfig::new(pair[0], pair[1])
                    .with_bias(false)
                    .init(device)
            })
            .collect();
        let (mut lifs, mut recurrent) = (Vec::new(), Vec::new());
        for &width in workload.hidden {
            if workload.recurrent {
                let config = RecurrentLifConfig::new(width)
                    .with_decay(decay)
                    .with_reset_gradient(true)
                    .with_firing(firing);
                recurrent.push(config.init(device));
            } else {
                let config = LifConfig::new(width)
                    .with_decay(decay)
                    .with_reset_gradient(true)
                    .with_firing(firing);
                lifs.push(config.init(device));
            }
        }
        let readout = workload.outputs.map(|outputs| {
            LeakyReadoutConfig::new(outputs)
                .with_decay(decay)
                .init(device)
        });
        Net {
            linears,
            lifs,
            recurrent,
            readout,
        }
    }

    /// The logits `[batch, classes]` (or the last layer's spike counts without a readout).
    fn forward(&self, input: Tensor<3>) -> Tensor<2> {
        let mut activity = input;
        for (layer, linear) in self.linears.iter().enumerate() {
            let current = linear.forward(activity);
            activity = if let Some(lif) = self.lifs.get(layer) {
                lif.forward(current, None, false).spikes
            } else if let Some(lif) = self.recurrent.get(layer) {
                lif.forward(current, None, false).spikes
            } else {
                let readout = self
                    .readout
                    .as_ref()
                    .expect("the last Linear feeds the readout");
                return max_over_time(readout.forward(current, None).0);
            };
        }
        activity.sum_dim(0).squeeze_dim(0)
    }
}

/// The process's peak resident memory so far, in MiB (Linux; 0 elsewhere).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Median, minimum and maximum.
fn summary(mut seconds: Vec<f64>) -> (f64, f64, f64) {
    seconds.sort_by(f64::total_cmp);
    let n = seconds.len();
    let median = if n % 2 == 1 {
        seconds[n / 2]
    } else {
        (seconds[n / 2 - 1] + seconds[n / 2]) / 2.0
    };
    (median, seconds[0], seconds[n - 1])
}

fn time(iterations: usize, mut run: impl FnMut()) -> Vec<f64> {
    for _ in 0..2 {
        run();
    }
    (0..iterations)
        .map(|_| {
            let clock = Instant::now();
            run();
            clock.elapsed().as_secs_f64()
        })
        .collect()
}

fn main() -> ExitCode {
    common::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let chosen: Vec<Workload> = match &args.workload {
        None => WORKLOADS.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                WORKLOADS
                    .iter()
                    .find(|w| w.name.eq_ignore_ascii_case(name))
                    .copied()
                    .ok_or_else(|| {
                        let known: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
                        format!(
                            "unknown workload `{name}`, expected one of {}",
                            known.join(", ")
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    if args.iterations == 0 {
        return Err("--iterations must be at least 1".into());
    }
    let device = spikeburn::device(&args.device).map_err(|e| e.to_string())?;
    let autodiff = device.clone().autodiff();

    let mut table = Table::new([
        "workload",
        "train s (median)",
        "train min",
        "train max",
        "forward s (median)",
        "forward min",
        "forward max",
        "forward samples/s",
        "peak memory growth MiB",
    ]);
    for workload in &chosen {
        let iterations = if workload.large {
            (args.iterations / 5).max(3)
        } else {
            args.iterations
        };
        eprintln!(
            "{}: {iterations} iterations on {}",
            workload.name, args.device
        );
        autodiff.seed(0);
        let shape = [workload.steps, workload.batch, workload.inputs];
        let input = Tensor::<3>::random(shape, Distribution::Bernoulli(0.05), &autodiff);
        let classes = workload
            .outputs
            .unwrap_or(workload.hidden[workload.hidden.len() - 1]);
        let labels: Vec<i64> = (0..workload.batch)
            .map(|b| (b * 7 % classes) as i64)
            .collect();
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(labels, [workload.batch]), &autodiff);
        let before = peak_mib();

        let mut network = Net::new(workload, &autodiff);
        let mut optimizer = AdamConfig::new().init();
        let train = if workload.train {
            let seconds = time(iterations, || {
                let logits = network.forward(input.clone());
                let loss = cross_entropy(logits, labels.clone());
                let gradients = GradientsParams::from_grads(loss.backward(), &network);
                network = optimizer.step(1e-3, network.clone(), gradients);
            });
            Some(summary(seconds))
        } else {
            None
        };

        let inference = network.valid();
        let plain_input = input.clone().inner();
        let seconds = time(iterations, || {
            let logits = inference.forward(plain_input.clone());
            let _ = logits.into_data();
        });
        let forward = summary(seconds);
        let growth = peak_mib() - before;

        let cell = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.4}"));
        table.push([
            workload.name.to_string(),
            cell(train.map(|t| t.0)),
            cell(train.map(|t| t.1)),
            cell(train.map(|t| t.2)),
            format!("{:.4}", forward.0),
            format!("{:.4}", forward.1),
            format!("{:.4}", forward.2),
            format!("{:.0}", workload.batch as f64 / forward.0),
            format!("{growth:.0}"),
        ]);
    }
    println!("{}", table.markdown());
    Ok(())
}
