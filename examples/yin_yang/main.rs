//! Trains a spiking network on the Yin-Yang dataset (Kriener, Goltz and Petrovici 2021): the
//! main job of the README.
//!
//! Run, from the repository root:
//!
//! ```text
//! cargo run --release --example yin_yang
//! cargo run --release --example yin_yang -- --device flex --epochs 20 --noise gaussian:0.3
//! cargo run --release --example yin_yang -- --config run.json --resume
//! ```
//!
//! Every flag can also be given in a JSON config (`--config`), with the flags' names in
//! snake case; flags given on the command line override the file. Writes `metrics.csv`,
//! `checkpoint/`, `report.json`, `loss.png`, `accuracy.png` and `raster.png` into `--out`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde::{Deserialize, Serialize};
use spikeburn::data::{YinYangDataset, YinYangEncoding, yin_yang_splits};
use spikeburn::nn::SpikingMlpConfig;
use spikeburn::{Firing, Noise, SpikeMode};

use common::trainer::{Outcome, Splits, TrainOptions, fit};

/// Everything a Yin-Yang run is made of; the JSON form of `--config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Backend: `ndarray`, `flex` or `wgpu`.
    device: String,
    /// Passes over the 5000 training points.
    epochs: usize,
    /// Samples per optimiser step.
    batch_size: usize,
    /// Adam's peak learning rate (cosine-annealed).
    lr: f64,
    /// Widths of the hidden LIF layers.
    hidden: Vec<usize>,
    /// Escape noise, `family:scale`: the surrogate is its density.
    noise: Noise,
    /// Forward mode of the hidden neurons: `deterministic` or `escape`.
    mode: SpikeMode,
    /// Seed of the data, the initialisation, the shuffling and the noise.
    seed: u64,
    /// Output folder.
    out: PathBuf,
    /// Input encoding: constant currents (default) or spike latencies.
    encoding: YinYangEncoding,
    /// Membrane decay of the hidden neurons per step.
    decay: f64,
    /// Membrane decay of the readout per step.
    readout_decay: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            device: "ndarray".into(),
            epochs: 60,
            batch_size: 32,
            lr: 5e-3,
            hidden: vec![200],
            noise: Noise::logistic(0.25).expect("a valid scale"),
            mode: SpikeMode::Deterministic,
            seed: 1,
            out: PathBuf::from("out/yin_yang"),
            // Constant input currents train to about 98.7% test accuracy with these settings;
            // latency-coded spikes (`YinYangEncoding::default()`) are harder (README).
            encoding: YinYangEncoding::Current { steps: 30 },
            decay: 0.9,
            readout_decay: 0.9,
        }
    }
}

/// Train a spiking network on Yin-Yang.
#[derive(Debug, Parser)]
#[command(name = "yin_yang")]
struct Args {
    /// A JSON config; the flags below override its fields.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Backend: ndarray, flex or wgpu (compiled in with the feature of the same name).
    #[arg(long)]
    device: Option<String>,
    /// Passes over the training set.
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per optimiser step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam's peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Hidden widths, comma separated.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Escape noise `family:scale`, e.g. `logistic:0.25`.
    #[arg(long)]
    noise: Option<Noise>,
    /// Forward mode: deterministic or escape.
    #[arg(long)]
    mode: Option<SpikeMode>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Input encoding with its default settings: current (the default) or latency.
    #[arg(long, value_parser = ["latency", "current"])]
    encoding: Option<String>,
    /// Time steps per sample.
    #[arg(long)]
    steps: Option<usize>,
    /// Output folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue from the checkpoint in the output folder.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl Args {
    /// The config file (or the defaults) with the flags applied.
    fn config(&self) -> Result<Config, String> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|error| format!("`{}`: {error}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(device) = &self.device {
            config.device = device.clone();
        }
        if let Some(epochs) = self.epochs {
            config.epochs = epochs;
        }
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(hidden) = &self.hidden {
            config.hidden = hidden.clone();
        }
        if let Some(noise) = self.noise {
            config.noise = noise;
        }
        if let Some(mode) = self.mode {
            config.mode = mode;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(out) = &self.out {
            config.out = out.clone();
        }
        match self.encoding.as_deref() {
            Some("latency") => config.encoding = YinYangEncoding::default(),
            Some(_) => config.encoding = YinYangEncoding::Current { steps: 30 },
            None => {}
        }
        if let Some(steps) = self.steps {
            config.encoding = match config.encoding {
                YinYangEncoding::Current { .. } => YinYangEncoding::Current { steps },
                YinYangEncoding::Latency { bias, .. } => YinYangEncoding::Latency {
                    steps,
                    early: steps / 15,
                    late: steps * 11 / 15,
                    bias,
                },
            };
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let config = args.config()?;
    let device = spikeburn::device(&config.device).map_err(|error| error.to_string())?;
    if config.hidden.is_empty() || config.hidden.contains(&0) {
        return Err(format!(
            "`hidden` needs positive widths, got {:?}",
            config.hidden
        ));
    }

    let data = yin_yang_splits(config.seed);
    let encode = |data| YinYangDataset::new(data, config.encoding).map_err(|e| e.to_string());
    let splits = Splits {
        train: Box::new(encode(data.train)?),
        validation: Some(Box::new(encode(data.validation)?)),
        test: Box::new(encode(data.test)?),
    };

    let mut sizes = vec![config.encoding.inputs()];
    sizes.extend(&config.hidden);
    sizes.push(3);
    let model = SpikingMlpConfig::new(sizes)
        .with_decay(config.decay)
        .with_readout_decay(config.readout_decay)
        .with_firing(Firing::new(config.noise, config.mode));
    let options = TrainOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.lr,
        seed: config.seed,
        out: config.out.clone(),
        resume: args.resume,
        progress: !args.quiet,
        interrupt_after: None,
    };
    let text = serde_json::to_string_pretty(&config).expect("configs serialise");
    std::fs::create_dir_all(&config.out)
        .map_err(|error| format!("cannot create `{}`: {error}", config.out.display()))?;
    common::trainer::write_atomically(&config.out.join("config.json"), text.as_bytes())?;

    match fit(
        "yin_yang",
        &model,
        &splits,
        &options,
        &device.autodiff(),
        &config.device,
    )? {
        Outcome::Finished(report) => println!(
            "test accuracy {:.2}% after {} epochs in {:.0} s on {}; wrote {}",
            100.0 * report.test_accuracy,
            report.epochs,
            report.wall_seconds,
            report.device,
            config.out.display()
        ),
        Outcome::Interrupted { epoch } => println!("stopped after epoch {epoch}"),
    }

    Ok(())
}
