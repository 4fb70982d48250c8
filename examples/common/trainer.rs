//! The training loop the example trainers share: minibatch Adam on a [`SpikingMlp`] with
//! cross-entropy on the maximum over time of the readout membrane, a progress bar, per-epoch
//! metrics in CSV, an atomic checkpoint after every epoch, resumption, a JSON report and figures.
//!
//! Runs are reproducible from their seed, including across a resume: the model is initialised
//! after seeding the device with the run's seed, every epoch shuffles with a generator seeded by
//! `(seed, epoch)` and reseeds the device (escape noise) the same way, and a checkpoint holds the
//! model, the optimiser state and the metrics so far.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use spikeburn::bridge::{CausalMlp, LinearGradient, autodiff_gradients, gradients_params};
use spikeburn::causal::{PropagationMode, cosine};
use spikeburn::data::{SpikeBatch, SpikeBatcher, SpikeSample};
use spikeburn::nn::loss::{accuracy, cross_entropy, max_over_time};
use spikeburn::nn::{SpikingMlp, SpikingMlpConfig};

use super::figure::{LineChart, Raster, Series, line_chart, raster};

/// The datasets of a task.
pub struct Splits {
    /// What the model learns from.
    pub train: Box<dyn Dataset<SpikeSample>>,
    /// Held out for model selection and the learning curves; `None` to skip.
    pub validation: Option<Box<dyn Dataset<SpikeSample>>>,
    /// Held out until the end: the reported accuracy.
    pub test: Box<dyn Dataset<SpikeSample>>,
}

/// How to train, independently of the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Adam's peak learning rate, annealed to 0 along a cosine over the epochs.
    pub learning_rate: f64,
    /// The seed of the initialisation, the shuffling and the escape noise.
    pub seed: u64,
    /// Where the metrics, checkpoint, report and figures go.
    pub out: PathBuf,
    /// Continue from the checkpoint in `out` instead of starting afresh.
    pub resume: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Stop after this many epochs of this run, as if killed after writing the checkpoint.
    #[serde(skip)]
    pub interrupt_after: Option<usize>,
    /// What the optimiser follows. Default: the surrogate gradient.
    #[serde(default)]
    pub rule: GradientRule,
    /// Log the training gradient's alignment with the true gradient; `None` to skip.
    #[serde(default)]
    pub alignment: Option<AlignmentOptions>,
}

/// The gradient a run trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientRule {
    /// Burn's autodiff backward: the noise density as surrogate derivative. The default.
    #[default]
    Surrogate,
    /// Exact-difference propagation of spike effects (THEORY.md section 2, step 4) on one noise
    /// sample per input, computed by the causal estimators on the host.
    ExactDifference,
}

impl std::str::FromStr for GradientRule {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "surrogate" => Ok(GradientRule::Surrogate),
            "exact_difference" | "exact-difference" => Ok(GradientRule::ExactDifference),
            other => Err(format!(
                "unknown gradient rule `{other}`, expected surrogate or exact_difference"
            )),
        }
    }
}

/// How often and how precisely to measure gradient alignment during training.
///
/// Every `every` optimiser steps, the gradient of the batch's mean expected loss is estimated by
/// exact-difference propagation over `replicas` fresh noise samples of each of the batch's
/// first `samples` inputs, and the cosine between it and the gradient the optimiser follows is
/// logged for every `Linear` layer, with the consistency of the estimate itself. The noise is the layers' forward noise (for a deterministic
/// network: the noise whose density is its surrogate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlignmentOptions {
    /// Optimiser steps between measurements.
    pub every: usize,
    /// Inputs of the batch used (at most the batch).
    pub samples: usize,
    /// Noise samples per input, split into two independent halves.
    pub replicas: usize,
}

impl Default for AlignmentOptions {
    fn default() -> Self {
        AlignmentOptions {
            every: 25,
            samples: 32,
            replicas: 8,
        }
    }
}

/// One alignment measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignmentPoint {
    /// The optimiser step, from 1.
    pub step: usize,
    /// The epoch, from 1.
    pub epoch: usize,
    /// The cosine per `Linear` layer, input side first.
    pub cosine: Vec<f64>,
    /// The cosine between the two independent halves of the reference estimate, per layer: near
    /// 1 when the reference is precise, and a ceiling on what `cosine` can show when it is not.
    pub consistency: Vec<f64>,
}

impl TrainOptions {
    /// Checks the values, naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("`epochs` must be at least 1, got 0".into());
        }
        if self.batch_size == 0 {
            return Err("`batch_size` must be at least 1, got 0".into());
        }
        if let Some(alignment) = &self.alignment
            && (alignment.every == 0 || alignment.samples == 0 || alignment.replicas == 0)
        {
            return Err(format!(
                "alignment needs positive `every`, `samples` and `replicas`, got {alignment:?}"
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "`learning_rate` must be positive and finite, got {}",
                self.learning_rate
            ));
        }
        Ok(())
    }
}

/// One epoch's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch (of the model as it was trained).
    pub train_accuracy: f64,
    /// Validation accuracy after the epoch, if there is a validation set.
    pub validation_accuracy: Option<f64>,
    /// Mean firing rate of the hidden neurons on the validation (or test) set, per step.
    pub hidden_rate: f64,
    /// The learning rate of the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch, including evaluation.
    pub seconds: f64,
}

/// The summary written as `report.json` at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The task's name.
    pub task: String,
    /// The backend the run used.
    pub device: String,
    /// Accuracy of the final model on the test set.
    pub test_accuracy: f64,
    /// Mean cross-entropy of the final model on the test set.
    pub test_loss: f64,
    /// Epochs trained in all (across resumptions).
    pub epochs: usize,
    /// Wall-clock seconds of training in all (across resumptions).
    pub wall_seconds: f64,
    /// The network.
    pub model: serde_json::Value,
    /// The training options.
    pub options: TrainOptions,
    /// Every epoch's metrics.
    pub history: Vec<EpochMetrics>,
    /// The mean alignment cosine per `Linear` layer over the run, when it was measured.
    #[serde(default)]
    pub mean_alignment: Option<Vec<f64>>,
    /// The mean consistency of the alignment's reference per `Linear` layer
    /// ([`AlignmentPoint::consistency`]).
    #[serde(default)]
    pub mean_consistency: Option<Vec<f64>>,
}

/// How a call to [`fit`] ended.
#[derive(Debug)]
pub enum Outcome {
    /// All epochs ran; the report was written.
    Finished(Box<Report>),
    /// [`TrainOptions::interrupt_after`] stopped it after this epoch's checkpoint.
    Interrupted {
        /// The last epoch completed and checkpointed.
        epoch: usize,
    },
}

/// What a checkpoint stores beside the model and optimiser files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    task: String,
    model: serde_json::Value,
    seed: u64,
    history: Vec<EpochMetrics>,
    #[serde(default)]
    alignment: Vec<AlignmentPoint>,
}

const CHECKPOINT: &str = "checkpoint";
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";

/// A seed for the `epoch`-th epoch's generators, different for every (seed, epoch).
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    // SplitMix64's finaliser spreads consecutive inputs over the whole range.
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// partial file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temporary = path.with_extension("partial");
    fs::write(&temporary, bytes)
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write `{}`: {error}", path.display()))
}

/// Trains `model` (a [`SpikingMlpConfig`]) on `splits` and writes everything into
/// `options.out`: `metrics.csv`, `checkpoint/`, `report.json`, `loss.png`, `accuracy.png` and
/// `raster.png`.
///
/// `device` must be an autodiff device; `device_name` is recorded in the report.
pub fn fit(
    task: &str,
    model: &SpikingMlpConfig,
    splits: &Splits,
    options: &TrainOptions,
    device: &Device,
    device_name: &str,
) -> Result<Outcome, String> {
    options.validate()?;
    model.validate().map_err(|error| error.to_string())?;
    super::create_folder(&options.out)?;
    let model_json = serde_json::to_value(model).expect("configs serialise");

    device.seed(options.seed);
    let mut network = model.init(device);
    let mut optimizer = AdamConfig::new().init();
    let mut history = Vec::new();
    let mut alignment = Vec::new();
    if options.resume {
        if let Some(state) = read_checkpoint(&options.out)? {
            if state.model != model_json || state.task != task || state.seed != options.seed {
                return Err(format!(
                    "the checkpoint in `{}` is of another run (task, seed or model differ); \
                     remove it or drop --resume",
                    options.out.display()
                ));
            }
            let folder = options.out.join(CHECKPOINT);
            network = network
                .try_load_file(folder.join(MODEL_FILE))
                .map_err(|error| format!("cannot load the checkpointed model: {error}"))?;
            optimizer = optimizer
                .load(folder.join(OPTIMIZER_FILE))
                .map_err(|error| format!("cannot load the checkpointed optimiser: {error}"))?;
            history = state.history;
            alignment = state.alignment;
            eprintln!("resuming after epoch {}", history.len());
        } else {
            eprintln!(
                "no checkpoint in `{}`: starting afresh",
                options.out.display()
            );
        }
    }

    let batcher = SpikeBatcher;
    let started_at = history.len();
    for epoch in started_at + 1..=options.epochs {
        let clock = Instant::now();
        let learning_rate = options.learning_rate
            * 0.5
            * (1.0 + (std::f64::consts::PI * (epoch - 1) as f64 / options.epochs as f64).cos());
        device.seed(epoch_seed(options.seed, epoch));

        let mut order: Vec<usize> = (0..splits.train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(options.seed, epoch)));
        let progress = progress_bar(options, order.len(), epoch);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0.0, 0);
        let batches = splits.train.len().div_ceil(options.batch_size);
        for (index, indices) in order.chunks(options.batch_size).enumerate() {
            let step = (epoch - 1) * batches + index + 1;
            let batch = load(&batcher, splits.train.as_ref(), indices, device)?;
            let logits = max_over_time(network.forward(batch.input.clone()).membrane); // [batch, classes]
            let loss = cross_entropy(logits.clone(), batch.labels.clone());
            correct += accuracy(logits.detach(), batch.labels.clone()) * indices.len() as f64;

            let step_seed = epoch_seed(options.seed ^ 0x5eed, step);
            let measure = options.alignment.filter(|a| step % a.every == 0);
            let causal = match (options.rule, measure) {
                (GradientRule::Surrogate, None) => None,
                _ => Some(CausalBatch::new(&network, &batch)?),
            };
            let (gradients, followed) = match (options.rule, &causal) {
                (GradientRule::ExactDifference, Some(causal)) => {
                    let layers = causal.gradient(indices.len(), 1, step_seed)?;
                    let gradients = gradients_params(&network, &layers, device);
                    (gradients, Some(layers))
                }
                _ => {
                    let gradients = loss.clone().backward();
                    let followed = measure.map(|_| autodiff_gradients(&network, &gradients));
                    (GradientsParams::from_grads(gradients, &network), followed)
                }
            };
            if let (Some(settings), Some(followed), Some(causal)) = (measure, followed, &causal) {
                let half = settings.replicas.div_ceil(2);
                // Two independent halves: their mean is the reference, their agreement says how
                // far the reference's own noise limits the cosine.
                let first = causal.gradient(settings.samples, half, !step_seed)?;
                let second = causal.gradient(settings.samples, half, step_seed ^ 0xa5)?;
                let layers = followed.iter().zip(first.iter().zip(&second));
                let (cosine, consistency) = layers
                    .map(|(followed, (a, b))| {
                        let (a, b) = (a.flat(), b.flat());
                        let mean: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                        (cosine(&followed.flat(), &mean), cosine(&a, &b))
                    })
                    .unzip();
                alignment.push(AlignmentPoint {
                    step,
                    epoch,
                    cosine,
                    consistency,
                });
            }
            network = optimizer.step(learning_rate, network, gradients);
            loss_sum += loss.into_scalar::<f32>() as f64 * indices.len() as f64;
            seen += indices.len();
            progress.inc(indices.len() as u64);
            progress.set_message(format!(
                "loss {:.4}  accuracy {:.2}%",
                loss_sum / seen as f64,
                100.0 * correct / seen as f64
            ));
        }
        progress.finish_and_clear();

        let held_out = splits.validation.as_deref().unwrap_or(splits.test.as_ref());
        let evaluation = evaluate(&network.valid(), held_out, options.batch_size, device)?;
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_accuracy: correct / seen as f64,
            validation_accuracy: splits.validation.as_ref().map(|_| evaluation.accuracy),
            hidden_rate: evaluation.hidden_rate,
            learning_rate,
            seconds: clock.elapsed().as_secs_f64(),
        };
        eprintln!(
            "epoch {epoch}/{}: loss {:.4}, train {:.2}%{}, hidden rate {:.3}, {:.1} s",
            options.epochs,
            metrics.train_loss,
            100.0 * metrics.train_accuracy,
            metrics
                .validation_accuracy
                .map_or(String::new(), |a| format!(", validation {:.2}%", 100.0 * a)),
            metrics.hidden_rate,
            metrics.seconds
        );
        history.push(metrics);

        write_metrics(&options.out, &history)?;
        if options.alignment.is_some() {
            write_alignment(&options.out, &alignment)?;
        }
        let state = CheckpointState {
            task: task.to_string(),
            model: model_json.clone(),
            seed: options.seed,
            history: history.clone(),
            alignment: alignment.clone(),
        };
        write_checkpoint(&options.out, &network, &optimizer, &state)?;
        if options.interrupt_after == Some(epoch - started_at) && epoch < options.epochs {
            return Ok(Outcome::Interrupted { epoch });
        }
    }

    let final_model = network.valid();
    let test = evaluate(
        &final_model,
        splits.test.as_ref(),
        options.batch_size,
        device,
    )?;
    let report = Report {
        task: task.to_string(),
        device: device_name.to_string(),
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        epochs: history.len(),
        wall_seconds: history.iter().map(|m| m.seconds).sum(),
        model: model_json,
        options: options.clone(),
        history,
        mean_alignment: mean_per_layer(&alignment, |p| &p.cosine),
        mean_consistency: mean_per_layer(&alignment, |p| &p.consistency),
    };
    let text = serde_json::to_string_pretty(&report).expect("reports serialise");
    write_atomically(&options.out.join("report.json"), text.as_bytes())?;
    let figures =
        write_figures(&options.out, &report, &final_model, splits, device).and_then(|()| {
            match options.alignment {
                Some(_) => alignment_figure(&options.out, &report.task, &alignment),
                None => Ok(()),
            }
        });
    if let Err(message) = figures {
        eprintln!("warning: figures not written: {message}");
    }

    Ok(Outcome::Finished(Box::new(report)))
}

/// A batch as the causal estimators see it: the model's description and the batch's inputs
/// and labels on the host, read once per optimiser step however many estimates use them.
struct CausalBatch {
    view: CausalMlp,
    inputs: Vec<Vec<Vec<f64>>>,
    targets: Vec<usize>,
}

impl CausalBatch {
    fn new(network: &SpikingMlp, batch: &SpikeBatch) -> Result<Self, String> {
        Ok(CausalBatch {
            view: CausalMlp::new(network).map_err(|error| error.to_string())?,
            inputs: spikeburn::bridge::sequences(batch.input.clone()),
            targets: spikeburn::bridge::labels(batch.labels.clone()),
        })
    }

    /// The mean over the first `samples` inputs of the exact-difference gradient estimate with
    /// `replicas` noise samples per input.
    fn gradient(
        &self,
        samples: usize,
        replicas: usize,
        seed: u64,
    ) -> Result<Vec<LinearGradient>, String> {
        let samples = samples.min(self.inputs.len());
        self.view
            .estimate(
                &self.inputs[..samples],
                &self.targets[..samples],
                replicas,
                PropagationMode::ExactDifference,
                seed,
            )
            .map_err(|error| format!("cannot estimate the causal gradient: {error}"))
    }
}

/// The mean per layer over all measurements of what `value` picks.
fn mean_per_layer(
    points: &[AlignmentPoint],
    value: impl Fn(&AlignmentPoint) -> &Vec<f64>,
) -> Option<Vec<f64>> {
    let layers = value(points.first()?).len();
    let n = points.len() as f64;
    Some(
        (0..layers)
            .map(|layer| points.iter().map(|p| value(p)[layer]).sum::<f64>() / n)
            .collect(),
    )
}

/// Writes `alignment.csv`: one row per measurement, one cosine column per `Linear` layer.
fn write_alignment(out: &Path, points: &[AlignmentPoint]) -> Result<(), String> {
    let layers = points.first().map_or(0, |p| p.cosine.len());
    let mut text = String::from("step,epoch");
    for layer in 0..layers {
        text.push_str(&format!(",cosine_linear{layer}"));
    }
    for layer in 0..layers {
        text.push_str(&format!(",consistency_linear{layer}"));
    }
    text.push('\n');
    for point in points {
        text.push_str(&format!("{},{}", point.step, point.epoch));
        for value in point.cosine.iter().chain(&point.consistency) {
            text.push_str(&format!(",{value}"));
        }
        text.push('\n');
    }
    write_atomically(&out.join("alignment.csv"), text.as_bytes())
}

/// `alignment.png`: per epoch, the mean cosine of every layer (solid) and the mean consistency
/// of its reference (dashed, the ceiling the reference's own noise puts on the cosine).
fn alignment_figure(out: &Path, task: &str, points: &[AlignmentPoint]) -> Result<(), String> {
    let layers = points.first().map_or(0, |p| p.cosine.len());
    let epochs = points.last().map_or(0, |p| p.epoch);
    let per_epoch = |value: &dyn Fn(&AlignmentPoint) -> f64| -> Vec<(f64, f64)> {
        (1..=epochs)
            .filter_map(|epoch| {
                let values: Vec<f64> = points
                    .iter()
                    .filter(|p| p.epoch == epoch)
                    .map(value)
                    .collect();
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                (!values.is_empty()).then_some((epoch as f64, mean))
            })
            .collect()
    };
    let mut series = Vec::new();
    for layer in 0..layers {
        let name = if layer + 1 == layers {
            "readout weights".to_string()
        } else {
            format!("hidden layer {} weights", layer + 1)
        };
        series.push(Series::new(
            format!("{name}: cosine"),
            per_epoch(&|p| p.cosine[layer]),
        ));
        let mut ceiling = Series::new(
            format!("{name}: reference consistency"),
            per_epoch(&|p| p.consistency[layer]),
        );
        ceiling.dashed = true;
        series.push(ceiling);
    }
    line_chart(
        &out.join("alignment.png"),
        &LineChart {
            title: format!("{task}: training gradient vs exact-difference estimate"),
            x_label: "epoch".into(),
            y_label: "mean cosine over the epoch".into(),
            log_x: false,
            y_range: Some((-1.0, 1.0)),
            series,
        },
    )
}

fn progress_bar(options: &TrainOptions, samples: usize, epoch: usize) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(samples as u64);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{}", options.epochs));
    bar
}

/// Reads the samples at `indices` of `dataset` as one batch on `device`.
pub fn load(
    batcher: &SpikeBatcher,
    dataset: &dyn Dataset<SpikeSample>,
    indices: &[usize],
    device: &Device,
) -> Result<SpikeBatch, String> {
    let items = indices
        .iter()
        .map(|&index| dataset.get(index))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("cannot read a sample: {error}"))?;
    batcher
        .try_batch(&items, device)
        .map_err(|error| format!("cannot batch samples: {error}"))
}

/// Accuracy, loss and hidden firing rate of a model on a dataset.
struct Evaluation {
    accuracy: f64,
    loss: f64,
    hidden_rate: f64,
}

fn evaluate(
    model: &SpikingMlp,
    dataset: &dyn Dataset<SpikeSample>,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation, String> {
    let plain = device.clone().inner();
    let (mut correct, mut loss, mut rate, mut seen) = (0.0, 0.0, 0.0, 0);
    let indices: Vec<usize> = (0..dataset.len()).collect();
    for chunk in indices.chunks(batch_size.max(256)) {
        let batch = load(&SpikeBatcher, dataset, chunk, &plain)?;
        let output = model.forward(batch.input);
        let logits = max_over_time(output.membrane); // [batch, classes]
        let n = chunk.len() as f64;
        correct += accuracy(logits.clone(), batch.labels.clone()) * n;
        loss += cross_entropy(logits, batch.labels).into_scalar::<f32>() as f64 * n;
        if let Some(spikes) = output.hidden_spikes.first() {
            rate += spikes.clone().mean().into_scalar::<f32>() as f64 * n;
        }
        seen += chunk.len();
    }
    let seen = seen.max(1) as f64;

    Ok(Evaluation {
        accuracy: correct / seen,
        loss: loss / seen,
        hidden_rate: rate / seen,
    })
}

/// Writes `metrics.csv` from the whole history, atomically.
fn write_metrics(out: &Path, history: &[EpochMetrics]) -> Result<(), String> {
    let mut text = String::from(
        "epoch,train_loss,train_accuracy,validation_accuracy,hidden_rate,learning_rate,seconds\n",
    );
    for m in history {
        let validation = m
            .validation_accuracy
            .map_or(String::new(), |a| a.to_string());
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            m.epoch,
            m.train_loss,
            m.train_accuracy,
            validation,
            m.hidden_rate,
            m.learning_rate,
            m.seconds
        ));
    }
    write_atomically(&out.join("metrics.csv"), text.as_bytes())
}

/// Writes the checkpoint into `checkpoint.partial/`, then swaps it in for `checkpoint/`: a run
/// killed at any point leaves either the previous complete checkpoint or the new one (as
/// `checkpoint.old/` for the instant between the two renames, which [`read_checkpoint`] also
/// accepts).
fn write_checkpoint(
    out: &Path,
    network: &SpikingMlp,
    optimizer: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<(), String> {
    let partial = out.join("checkpoint.partial");
    let current = out.join(CHECKPOINT);
    let old = out.join("checkpoint.old");
    let failed = |what: &Path, error: &dyn std::fmt::Display| {
        format!("cannot write the checkpoint `{}`: {error}", what.display())
    };

    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(|e| failed(&partial, &e))?;
    }
    fs::create_dir_all(&partial).map_err(|e| failed(&partial, &e))?;
    network
        .clone()
        .save_file(partial.join(MODEL_FILE))
        .map_err(|e| failed(&partial, &e))?;
    optimizer
        .save(partial.join(OPTIMIZER_FILE))
        .map_err(|e| failed(&partial, &e))?;
    let text = serde_json::to_string_pretty(state).expect("states serialise");
    fs::write(partial.join(STATE_FILE), text).map_err(|e| failed(&partial, &e))?;

    if current.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| failed(&old, &e))?;
        }
        fs::rename(&current, &old).map_err(|e| failed(&current, &e))?;
    }
    fs::rename(&partial, &current).map_err(|e| failed(&current, &e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| failed(&old, &e))?;
    }
    Ok(())
}

/// The checkpoint's state, after restoring `checkpoint/` from `checkpoint.old/` if a run was
/// killed between the two renames of [`write_checkpoint`]; `None` when there is none.
fn read_checkpoint(out: &Path) -> Result<Option<CheckpointState>, String> {
    let current = out.join(CHECKPOINT);
    let old = out.join("checkpoint.old");
    if !current.exists() && old.exists() {
        fs::rename(&old, &current)
            .map_err(|error| format!("cannot restore `{}`: {error}", old.display()))?;
    }
    let path = current.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path)
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| format!("`{}` is not a checkpoint state: {error}", path.display()))
}

fn write_figures(
    out: &Path,
    report: &Report,
    model: &SpikingMlp,
    splits: &Splits,
    device: &Device,
) -> Result<(), String> {
    let epochs = |value: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        let points = report.history.iter();
        points
            .filter_map(|m| Some((m.epoch as f64, value(m)?)))
            .collect()
    };
    line_chart(
        &out.join("loss.png"),
        &LineChart {
            title: format!("{}: training loss", report.task),
            x_label: "epoch".into(),
            y_label: "cross-entropy".into(),
            log_x: false,
            y_range: None,
            series: vec![Series::new("train", epochs(&|m| Some(m.train_loss)))],
        },
    )?;
    line_chart(
        &out.join("accuracy.png"),
        &LineChart {
            title: format!(
                "{}: accuracy (test {:.2}%)",
                report.task,
                100.0 * report.test_accuracy
            ),
            x_label: "epoch".into(),
            y_label: "accuracy".into(),
            log_x: false,
            y_range: None,
            series: vec![
                Series::new("train", epochs(&|m| Some(m.train_accuracy))),
                Series::new("validation", epochs(&|m| m.validation_accuracy)),
            ],
        },
    )?;

    // One test sample: its input spikes (unless the input is a current) and the spikes of every
    // hidden layer.
    let plain = device.clone().inner();
    let batch = load(&SpikeBatcher, splits.test.as_ref(), &[0], &plain)?;
    let label = batch.labels.clone().into_scalar::<i64>();
    let output = model.forward(batch.input.clone());
    // `(step, neuron)` of every spike, or `None` if the tensor holds other values (currents).
    let events = |spikes: Tensor<3>| -> Option<Vec<(usize, usize)>> {
        let [time, _, neurons] = spikes.dims();
        let values = spikes.into_data().convert::<f32>().try_into_vec::<f32>();
        let values = values.expect("f32 spikes");
        if values.iter().any(|&v| v != 0.0 && v != 1.0) {
            return None;
        }
        let fired = (0..time * neurons).filter(|&k| values[k] == 1.0);
        Some(fired.map(|k| (k / neurons, k % neurons)).collect())
    };
    let mut panels = Vec::new();
    if let Some(input) = events(batch.input) {
        panels.push(("input".to_string(), input));
    }
    for (layer, hidden) in output.hidden_spikes.iter().enumerate() {
        let spikes = events(hidden.clone()).unwrap_or_default();
        panels.push((format!("hidden layer {}", layer + 1), spikes));
    }
    raster(
        &out.join("raster.png"),
        &Raster {
            title: format!("{}: test sample 0 (class {label})", report.task),
            time: output.membrane.dims()[0],
            panels,
        },
    )
}
