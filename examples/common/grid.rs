//! Many short Yin-Yang trainings, one per cell of an experiment's grid, each in its own folder
//! under the experiment's output; a cell whose `report.json` matches its settings is read back
//! instead of trained again, so an interrupted grid continues where it stopped.

use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use spikeburn::Firing;
use spikeburn::data::{SpikeSample, YinYangDataset, YinYangEncoding, yin_yang_splits};
use spikeburn::nn::SpikingMlpConfig;

use super::trainer::{AlignmentOptions, GradientRule, Outcome, Report, Splits, TrainOptions, fit};

/// A grid's Yin-Yang network: 5 inputs, one hidden LIF layer, 3 classes, decays 0.9.
pub fn model(hidden: usize, firing: Firing) -> SpikingMlpConfig {
    SpikingMlpConfig::new(vec![5, hidden, 3])
        .with_decay(0.9)
        .with_readout_decay(0.9)
        .with_firing(firing)
}

/// A grid cell's training: Adam at 5e-3 in batches of 32, logging alignment; [`cell`] fills in
/// the folder.
pub fn options(
    epochs: usize,
    seed: u64,
    rule: GradientRule,
    alignment: AlignmentOptions,
) -> TrainOptions {
    TrainOptions {
        epochs,
        batch_size: 32,
        learning_rate: 5e-3,
        seed,
        out: PathBuf::new(),
        resume: true,
        progress: false,
        interrupt_after: None,
        rule,
        alignment: Some(alignment),
    }
}

/// Yin-Yang as constant currents over `steps`, with the first `train` training points (all
/// 5000 if `None`) and the standard validation and test sets.
pub fn yin_yang(seed: u64, steps: usize, train: Option<usize>) -> Result<Splits, String> {
    let data = yin_yang_splits(seed);
    let encoding = YinYangEncoding::Current { steps };
    let encode = |data| YinYangDataset::new(data, encoding).map_err(|e| e.to_string());
    let full: Box<dyn Dataset<SpikeSample>> = Box::new(encode(data.train)?);
    let train: Box<dyn Dataset<SpikeSample>> = match train {
        Some(n) if n < full.len() => Box::new(PartialDataset::new(full, 0, n)),
        _ => full,
    };
    Ok(Splits {
        train,
        validation: Some(Box::new(encode(data.validation)?)),
        test: Box::new(encode(data.test)?),
    })
}

/// Trains one cell into `folder`, or reads its report if a finished run with the same model
/// and options is there; a finished run of other settings is replaced, an unfinished one resumed.
pub fn cell(
    folder: &Path,
    model: &SpikingMlpConfig,
    options: &TrainOptions,
    splits: &Splits,
    device: &burn::tensor::Device,
) -> Result<Report, String> {
    let options = TrainOptions {
        out: folder.to_path_buf(),
        resume: true,
        progress: false,
        ..options.clone()
    };
    let path = folder.join("report.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(report) = serde_json::from_str::<Report>(&text)
    {
        let model_json = serde_json::to_value(model).expect("configs serialise");
        if report.model == model_json && report.options == options {
            return Ok(report);
        }
        // A finished run of other settings: its checkpoint would be refused on resume.
        std::fs::remove_dir_all(folder)
            .map_err(|error| format!("cannot replace `{}`: {error}", folder.display()))?;
    }
    match fit(
        "yin_yang",
        model,
        splits,
        &options,
        &device.clone().autodiff(),
        "ndarray",
    )? {
        Outcome::Finished(report) => Ok(*report),
        Outcome::Interrupted { epoch } => Err(format!("cell stopped after epoch {epoch}")),
    }
}

/// The folder of a cell.
pub fn cell_folder(out: &Path, name: &str) -> PathBuf {
    out.join("cells").join(name)
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}
