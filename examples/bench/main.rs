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
//! cargo run --release --example bench -- --workload W1 --sparse never   # dense projections
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
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;

use clap::Parser;
use spikeburn::nn::fused::SparseInput;
use spikeburn::nn::loss::cross_entropy;

use common::table::Table;
use common::workload::{Net, WORKLOADS, Workload};

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
    /// Input projections from the active inputs: auto (by measured density), always or never.
    #[arg(long, default_value = "auto", value_parser = parse_sparse)]
    sparse: SparseInput,
    /// Timed iterations per measurement (after two warm-up iterations); the large workloads use
    /// a fifth of it, at least 3.
    #[arg(long, default_value_t = 10)]
    iterations: usize,
}

fn parse_sparse(name: &str) -> Result<SparseInput, String> {
    match name {
        "auto" => Ok(SparseInput::Auto),
        "always" => Ok(SparseInput::Always),
        "never" => Ok(SparseInput::Never),
        other => Err(format!("`{other}` is not auto, always or never")),
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

/// Waits for every operation queued on `device`.
fn synced(device: &Device) -> Result<(), String> {
    device
        .sync()
        .map_err(|error| format!("the device failed to run the iteration: {error:?}"))
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

/// Seconds of each of `iterations` calls of `run`, after two warm-up calls. `run` waits for
/// the device to finish: on wgpu, `into_data` returns before the values are computed, and an
/// optimiser step only queues its work.
fn time(
    iterations: usize,
    mut run: impl FnMut() -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    for _ in 0..2 {
        run()?;
    }
    (0..iterations)
        .map(|_| {
            let clock = Instant::now();
            run()?;
            Ok(clock.elapsed().as_secs_f64())
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
                Workload::named(name).ok_or_else(|| {
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
        let (input, labels) = workload.data(&autodiff);
        let before = peak_mib();

        let mut network = Net::new(workload, &autodiff);
        network.sparse = args.sparse;
        let mut optimizer = AdamConfig::new().init();
        let train = if workload.train {
            let seconds = time(iterations, || {
                let logits = network.forward(input.clone());
                let loss = cross_entropy(logits, labels.clone());
                let gradients = GradientsParams::from_grads(loss.backward(), &network);
                network = optimizer.step(1e-3, network.clone(), gradients);
                synced(&device)
            })?;
            Some(summary(seconds))
        } else {
            None
        };

        let inference = network.valid();
        let plain_input = input.clone().inner();
        let seconds = time(iterations, || {
            let logits = inference.forward(plain_input.clone());
            let _ = logits.into_data();
            synced(&device)
        })?;
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
