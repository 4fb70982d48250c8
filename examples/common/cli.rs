//! The flags and JSON config every trainer shares, and the run that turns them into a model,
//! training options and a call to [`fit`](super::trainer::fit).
//!
//! A config file holds the same fields as the flags, in snake case, plus a `data` object with
//! the dataset's own settings; flags given on the command line override the file.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spikeburn::nn::SpikingMlpConfig;
use spikeburn::{Firing, Noise, SpikeMode};

use super::trainer::{
    AlignmentOptions, GradientRule, Outcome, Splits, TrainOptions, fit, write_atomically,
};

/// Everything a training run is made of; `D` is the dataset's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig<D> {
    /// Backend: `ndarray`, `flex` or `wgpu`.
    pub device: String,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Adam's peak learning rate (cosine-annealed to 0).
    pub lr: f64,
    /// Widths of the hidden LIF layers.
    pub hidden: Vec<usize>,
    /// Escape noise, `family:scale` on the command line: the surrogate is its density.
    pub noise: Noise,
    /// Forward mode of the hidden neurons: `deterministic` or `escape`.
    pub mode: SpikeMode,
    /// Seed of the data, the initialisation, the shuffling and the noise.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
    /// Membrane decay of the hidden neurons per step.
    pub decay: f64,
    /// Membrane decay of the readout per step.
    pub readout_decay: f64,
    /// In escape mode, the noise the forward draws when it differs from `noise` (whose density
    /// stays the surrogate); `family:scale` on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Noise>,
    /// What the optimiser follows: `surrogate` or `exact_difference`.
    #[serde(default)]
    pub rule: GradientRule,
    /// Measure gradient alignment during training; `None` to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<AlignmentOptions>,
    /// The dataset's settings.
    pub data: D,
}

/// The flags of every trainer.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// A JSON config; the flags below override its fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Backend: ndarray, flex or wgpu (each compiled in with the cargo feature of its name).
    #[arg(long)]
    pub device: Option<String>,
    /// Passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per optimiser step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam's peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Hidden widths, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Escape noise `family:scale`, e.g. `logistic:0.25`; its density is the surrogate.
    #[arg(long)]
    pub noise: Option<Noise>,
    /// Forward mode of the hidden neurons: deterministic or escape.
    #[arg(long)]
    pub mode: Option<SpikeMode>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// In escape mode, fire under this noise (`family:scale`) while training with the density
    /// of --noise.
    #[arg(long)]
    pub sampling: Option<Noise>,
    /// What the optimiser follows: surrogate (Burn's backward) or exact_difference (causal
    /// propagation on the host).
    #[arg(long)]
    pub rule: Option<GradientRule>,
    /// Every this many optimiser steps, log the cosine between the training gradient and an
    /// exact-difference estimate of the true gradient (alignment.csv, alignment.png).
    #[arg(long)]
    pub alignment_every: Option<usize>,
    /// Noise samples per input for the alignment estimate (default 8).
    #[arg(long)]
    pub alignment_replicas: Option<usize>,
    /// Continue from the checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl RunFlags {
    /// The config file (or `defaults`) with the flags applied.
    pub fn config<D: Serialize + DeserializeOwned>(
        &self,
        defaults: RunConfig<D>,
    ) -> Result<RunConfig<D>, String> {
        let mut config = match &self.config {
            Some(path) => read_config(path, defaults)?,
            None => defaults,
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
        if let Some(sampling) = self.sampling {
            config.sampling = Some(sampling);
        }
        if let Some(rule) = self.rule {
            config.rule = rule;
        }
        if self.alignment_every.is_some() || self.alignment_replicas.is_some() {
            let mut alignment = config.alignment.unwrap_or_default();
            if let Some(every) = self.alignment_every {
                alignment.every = every;
            }
            if let Some(replicas) = self.alignment_replicas {
                alignment.replicas = replicas;
            }
            config.alignment = Some(alignment);
        }
        Ok(config)
    }
}

/// Reads a config file; fields it leaves out keep their values in `defaults`.
fn read_config<D: Serialize + DeserializeOwned>(
    path: &Path,
    defaults: RunConfig<D>,
) -> Result<RunConfig<D>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    let given: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| format!("`{}`: {error}", path.display()))?;
    let mut merged = serde_json::to_value(&defaults).expect("configs serialise");
    merge(&mut merged, given);
    serde_json::from_value(merged).map_err(|error| format!("`{}`: {error}", path.display()))
}

/// Overwrites the fields of `base` with those of `given`, recursing into objects.
fn merge(base: &mut serde_json::Value, given: serde_json::Value) {
    match (base, given) {
        (serde_json::Value::Object(base), serde_json::Value::Object(given)) => {
            for (key, value) in given {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Builds the model, trains it with [`fit`] and prints the outcome.
///
/// `inputs` and `classes` are the widths of the network's input and output.
pub fn run<D: Serialize>(
    task: &str,
    config: &RunConfig<D>,
    flags: &RunFlags,
    inputs: usize,
    classes: usize,
    splits: &Splits,
) -> Result<(), String> {
    let device = spikeburn::device(&config.device).map_err(|error| error.to_string())?;
    if config.hidden.is_empty() || config.hidden.contains(&0) {
        return Err(format!(
            "`hidden` needs positive widths, got {:?}",
            config.hidden
        ));
    }

    let mut sizes = vec![inputs];
    sizes.extend(&config.hidden);
    sizes.push(classes);
    let mut firing = Firing::new(config.noise, config.mode);
    if let Some(sampling) = config.sampling {
        firing = firing.with_sampling(sampling);
    }
    let model = SpikingMlpConfig::new(sizes)
        .with_decay(config.decay)
        .with_readout_decay(config.readout_decay)
        .with_firing(firing);
    let options = TrainOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.lr,
        seed: config.seed,
        out: config.out.clone(),
        resume: flags.resume,
        progress: !flags.quiet,
        interrupt_after: None,
        rule: config.rule,
        alignment: config.alignment,
    };
    super::create_folder(&config.out)?;
    let text = serde_json::to_string_pretty(config).expect("configs serialise");
    write_atomically(&config.out.join("config.json"), text.as_bytes())?;

    match fit(
        task,
        &model,
        splits,
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
