//! Trains a spiking network on MNIST or Fashion-MNIST, read from the original IDX files.
//!
//! Run, from the repository root, with the four (uncompressed) IDX files of either dataset in
//! one folder:
//!
//! ```text
//! cargo run --release --example mnist -- --data path/to/mnist
//! cargo run --release --example mnist -- --data path/to/fashion --encoding rate --epochs 5
//! ```
//!
//! The folder must hold `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (Fashion-MNIST uses the same names);
//! nothing is downloaded. The last 5000 training images are held out for validation. Writes the
//! same files as the Yin-Yang trainer into `--out`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use clap::Parser;
use serde::{Deserialize, Serialize};
use spikeburn::data::{ImageEncoding, Mnist, MnistDataset, MnistSplit, SpikeSample};
use spikeburn::{Noise, SpikeMode};

use common::cli::{RunConfig, RunFlags, run};
use common::trainer::{GradientRule, Splits};

/// Training images held out for validation.
const VALIDATION: usize = 5000;

/// The dataset settings of an MNIST run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MnistData {
    /// The folder with the four IDX files.
    dir: PathBuf,
    /// How pixels become spikes.
    encoding: ImageEncoding,
}

fn defaults() -> RunConfig<MnistData> {
    RunConfig {
        device: "ndarray".into(),
        epochs: 10,
        batch_size: 128,
        lr: 2e-3,
        hidden: vec![256],
        noise: Noise::logistic(0.25).expect("a valid scale"),
        mode: SpikeMode::Deterministic,
        seed: 1,
        out: PathBuf::from("out/mnist"),
        decay: 0.95,
        readout_decay: 0.95,
        sampling: None,
        rule: GradientRule::Surrogate,
        alignment: None,
        data: MnistData {
            dir: PathBuf::from("data/mnist"),
            encoding: ImageEncoding::Latency {
                steps: 50,
                tau: 10.0,
                threshold: 0.2,
            },
        },
    }
}

/// Train a spiking network on MNIST or Fashion-MNIST.
#[derive(Debug, Parser)]
#[command(name = "mnist")]
struct Args {
    #[command(flatten)]
    run: RunFlags,
    /// The folder with the four IDX files.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Pixel encoding with 50 steps: latency (time to first spike) or rate (Bernoulli).
    #[arg(long, value_parser = ["latency", "rate"])]
    encoding: Option<String>,
}

fn main() -> ExitCode {
    common::exit(train(&Args::parse()))
}

fn train(args: &Args) -> Result<(), String> {
    let mut config = args.run.config(defaults())?;
    if let Some(dir) = &args.data {
        config.data.dir = dir.clone();
    }
    match args.encoding.as_deref() {
        Some("rate") => {
            let seed = config.seed;
            config.data.encoding = ImageEncoding::Rate {
                steps: 50,
                max_rate: 0.5,
                seed,
            };
        }
        Some(_) => config.data.encoding = defaults().data.encoding,
        None => {}
    }

    let read = |split| {
        let images = Mnist::from_dir(&config.data.dir, split).map_err(|e| e.to_string())?;
        MnistDataset::new(images, config.data.encoding).map_err(|e| e.to_string())
    };
    let train = read(MnistSplit::Train)?;
    let test = read(MnistSplit::Test)?;
    let inputs = train.inputs();
    if train.len() <= VALIDATION {
        return Err(format!(
            "the training set has {} images, fewer than the {VALIDATION} held out for validation",
            train.len()
        ));
    }
    let kept = train.len() - VALIDATION;
    let train = std::sync::Arc::new(train);
    let splits = Splits {
        train: boxed(PartialDataset::new(train.clone(), 0, kept)),
        validation: Some(boxed(PartialDataset::new(train.clone(), kept, train.len()))),
        test: Box::new(test),
    };

    run("mnist", &config, &args.run, inputs, 10, &splits)
}

fn boxed(dataset: impl Dataset<SpikeSample> + 'static) -> Box<dyn Dataset<SpikeSample>> {
    Box::new(dataset)
}
