//! Trains a spiking network on randman (Zenke and Vogels 2021): every input unit fires exactly
//! once per sample, at a time set by a random smooth manifold of the sample's class, so only
//! spike timing carries the class.
//!
//! Run, from the repository root:
//!
//! ```text
//! cargo run --release --example randman
//! cargo run --release --example randman -- --config randman.json --device flex
//! ```
//!
//! The dataset settings sit in the config's `data` object (`classes`, `units`, `steps`,
//! `dimension`, `alpha`, `frequencies`, `samples_per_class`, `train_fraction`, `seed`), with the
//! defaults 10, 100, 100, 2, 2.0, 5, 1000, 0.8 and 0. Writes the same files as the Yin-Yang
//! trainer into `--out`.

#[path = "../common/mod.rs"]
#[allow(dead_code)] // not every example uses every helper
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use spikeburn::data::{Randman, RandmanConfig};
use spikeburn::{Noise, SpikeMode};

use common::cli::{RunConfig, RunFlags, run};
use common::trainer::{GradientRule, Splits};

fn defaults() -> RunConfig<RandmanConfig> {
    RunConfig {
        device: "ndarray".into(),
        epochs: 20,
        batch_size: 64,
        lr: 2e-3,
        hidden: vec![128],
        noise: Noise::logistic(0.25).expect("a valid scale"),
        mode: SpikeMode::Deterministic,
        seed: 1,
        out: PathBuf::from("out/randman"),
        decay: 0.95,
        readout_decay: 0.95,
        sampling: None,
        rule: GradientRule::Surrogate,
        alignment: None,
        data: RandmanConfig::default(),
    }
}

/// Train a spiking network on randman.
#[derive(Debug, Parser)]
#[command(name = "randman")]
struct Args {
    #[command(flatten)]
    run: RunFlags,
}

fn main() -> ExitCode {
    common::exit(train(&Args::parse()))
}

fn train(args: &Args) -> Result<(), String> {
    let config = args.run.config(defaults())?;
    let data = Randman::generate(&config.data).map_err(|error| error.to_string())?;
    let split = data.split();
    let splits = Splits {
        train: Box::new(split.train),
        validation: None,
        test: Box::new(split.test),
    };

    let (inputs, classes) = (config.data.units, config.data.classes);
    run("randman", &config, &args.run, inputs, classes, &splits)
}
