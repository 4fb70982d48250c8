//! Single spike-train samples and their batches on a Burn device.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::DataError;

/// One sample: an input of `time` steps of `inputs` values each, and its class.
///
/// The values are spikes (0 or 1) for spike encodings, or input currents for current encodings.
///
/// # Shapes
/// - `input`: `[time, inputs]`, flattened time-major: the value of input `i` at step `t` is
///   `input[t * inputs + i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeSample {
    /// The values, `[time, inputs]` flattened time-major.
    pub input: Vec<f32>,
    /// The number of time steps.
    pub time: usize,
    /// The number of inputs at each step.
    pub inputs: usize,
    /// The class, from 0.
    pub label: usize,
}

impl SpikeSample {
    /// The value of input `input` at step `step`.
    ///
    /// # Panics
    /// If `step >= time` or `input >= inputs`.
    pub fn value(&self, step: usize, input: usize) -> f32 {
        assert!(
            step < self.time,
            "step {step} is out of range for {} steps",
            self.time
        );
        assert!(
            input < self.inputs,
            "input {input} is out of range for {} inputs",
            self.inputs
        );

        self.input[step * self.inputs + input]
    }

    /// The steps at which input `input` is non-zero, in increasing order.
    ///
    /// # Panics
    /// If `input >= inputs`.
    pub fn spike_steps(&self, input: usize) -> Vec<usize> {
        (0..self.time)
            .filter(|&step| self.value(step, input) != 0.0)
            .collect()
    }

    /// The number of non-zero values: the total spike count for a spike encoding.
    pub fn spike_count(&self) -> usize {
        self.input.iter().filter(|&&value| value != 0.0).count()
    }

    /// Checks that `input` holds exactly `time * inputs` values.
    pub fn validate(&self) -> Result<(), DataError> {
        let expected = self.time * self.inputs;
        if self.input.len() != expected {
            return Err(DataError::SampleLength {
                time: self.time,
                inputs: self.inputs,
                expected,
                found: self.input.len(),
            });
        }

        Ok(())
    }
}

/// A batch of samples on a device, time-major as the spiking layers consume it.
///
/// # Shapes
/// - `input`: `[time, batch, inputs]`
/// - `labels`: `[batch]`
#[derive(Debug, Clone)]
pub struct SpikeBatch {
    /// The inputs, `[time, batch, inputs]`.
    pub input: Tensor<3>,
    /// The classes, `[batch]`.
    pub labels: Tensor<1, Int>,
}

/// Stacks [`SpikeSample`]s of one shape into a [`SpikeBatch`].
///
/// As a Burn [`Batcher`] it panics on samples of different shapes (a data-loader cannot
/// return an error); [`SpikeBatcher::try_batch`] and [`SpikeBatcher::batch_indices`] return one
/// instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpikeBatcher;

impl SpikeBatcher {
    /// A batcher.
    pub fn new() -> Self {
        Self
    }

    /// Stacks `samples` on `device`, or says which sample has the wrong shape.
    ///
    /// # Shapes
    /// - each sample: `[time, inputs]`
    /// - returns: input `[time, batch, inputs]` and labels `[batch]`, `batch = samples.len()`
    pub fn try_batch(
        &self,
        samples: &[SpikeSample],
        device: &Device,
    ) -> Result<SpikeBatch, DataError> {
        let first = samples.first().ok_or(DataError::EmptyBatch)?;
        let (time, inputs, batch) = (first.time, first.inputs, samples.len());
        for (position, sample) in samples.iter().enumerate() {
            if sample.time != time || sample.inputs != inputs {
                return Err(DataError::ShapeMismatch {
                    position,
                    time: sample.time,
                    inputs: sample.inputs,
                    expected_time: time,
                    expected_inputs: inputs,
                });
            }
            sample.validate()?;
        }

        // Interleave the samples: row `(t, b)` of the batch is step `t` of sample `b`.
        let mut values = Vec::with_capacity(time * batch * inputs);
        for step in 0..time {
            for sample in samples {
                values.extend_from_slice(&sample.input[step * inputs..(step + 1) * inputs]);
            }
        }
        let labels: Vec<i64> = samples.iter().map(|sample| sample.label as i64).collect();

        let input = Tensor::<3>::from_data(TensorData::new(values, [time, batch, inputs]), device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), device);

        Ok(SpikeBatch { input, labels })
    }

    /// Gets the samples at `indices` from `dataset` and stacks them on `device`.
    ///
    /// Unlike [`Dataset::get`], an index past the end is an error, not a panic.
    ///
    /// # Shapes
    /// - returns: input `[time, batch, inputs]` and labels `[batch]`, `batch = indices.len()`
    pub fn batch_indices(
        &self,
        dataset: &impl Dataset<SpikeSample>,
        indices: &[usize],
        device: &Device,
    ) -> Result<SpikeBatch, DataError> {
        let len = dataset.len();
        let mut samples = Vec::with_capacity(indices.len());
        for &index in indices {
            if index >= len {
                return Err(DataError::IndexOutOfRange { index, len });
            }
            let sample = dataset
                .get(index)
                .map_err(|source| DataError::Item { index, source })?;
            samples.push(sample);
        }

        self.try_batch(&samples, device)
    }
}

impl Batcher<SpikeSample, SpikeBatch> for SpikeBatcher {
    /// Stacks the samples as [`SpikeBatcher::try_batch`] does.
    ///
    /// # Panics
    /// If `items` is empty or the samples differ in shape.
    fn batch(&self, items: Vec<SpikeSample>, device: &Device) -> SpikeBatch {
        self.try_batch(&items, device)
            .unwrap_or_else(|error| panic!("SpikeBatcher: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataset::InMemDataset;

    use super::*;

    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    /// A sample whose value at `(t, i)` is `100 * label + 10 * t + i`, so every cell is unique.
    fn numbered(label: usize, time: usize, inputs: usize) -> SpikeSample {
        let input = (0..time * inputs)
            .map(|k| (100 * label + 10 * (k / inputs) + k % inputs) as f32)
            .collect();
        SpikeSample {
            input,
            time,
            inputs,
            label,
        }
    }

    #[test]
    fn batch_is_time_major_with_samples_in_order() {
        let samples = vec![numbered(0, 3, 2), numbered(1, 3, 2)];
        let batch = SpikeBatcher::new().batch(samples, &device());

        assert_eq!(batch.input.dims(), [3, 2, 2]);
        let values = batch.input.into_data().try_into_vec_as::<f32>().unwrap();
        // [t][b][i] = 100 b + 10 t + i
        let expected = [
            0., 1., 100., 101., 10., 11., 110., 111., 20., 21., 120., 121.,
        ];
        assert_eq!(values, expected);
        let labels = batch.labels.into_data().try_into_vec_as::<i64>().unwrap();
        assert_eq!(labels, [0, 1]);
    }

    #[test]
    fn sample_accessors_read_time_major_values() {
        let mut sample = SpikeSample {
            input: vec![0.0; 6],
            time: 3,
            inputs: 2,
            label: 0,
        };
        sample.input[2 * 2 + 1] = 1.0;
        sample.input[1] = 1.0;

        assert_eq!(sample.value(2, 1), 1.0);
        assert_eq!(sample.spike_steps(1), [0, 2]);
        assert!(sample.spike_steps(0).is_empty());
        assert_eq!(sample.spike_count(), 2);
    }

    #[test]
    fn shape_mismatch_is_an_error_naming_the_sample() {
        let samples = [numbered(0, 3, 2), numbered(1, 3, 2), numbered(2, 4, 2)];
        let error = SpikeBatcher::new()
            .try_batch(&samples, &device())
            .unwrap_err();

        let message = error.to_string();
        assert!(message.contains("sample 2"), "{message}");
        assert!(message.contains("[time 4, inputs 2]"), "{message}");
        assert!(message.contains("[time 3, inputs 2]"), "{message}");
    }

    #[test]
    #[should_panic(expected = "SpikeBatcher: sample 1 of the batch")]
    fn batcher_panics_on_shape_mismatch() {
        let samples = vec![numbered(0, 3, 2), numbered(1, 3, 5)];
        let _ = SpikeBatcher::new().batch(samples, &device());
    }

    #[test]
    fn short_sample_and_empty_batch_are_errors() {
        let short = SpikeSample {
            input: vec![0.0; 5],
            time: 3,
            inputs: 2,
            label: 0,
        };
        let error = SpikeBatcher::new()
            .try_batch(&[short], &device())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a sample of shape [time 3, inputs 2] needs 6 values, got 5"
        );

        let error = SpikeBatcher::new().try_batch(&[], &device()).unwrap_err();
        assert!(matches!(error, DataError::EmptyBatch));
    }

    #[test]
    fn batch_indices_fetches_and_checks_bounds() {
        let dataset = InMemDataset::new((0..4).map(|label| numbered(label, 2, 3)).collect());
        let batcher = SpikeBatcher::new();

        let batch = batcher.batch_indices(&dataset, &[3, 1], &device()).unwrap();
        assert_eq!(batch.input.dims(), [2, 2, 3]);
        assert_eq!(
            batch.labels.into_data().try_into_vec_as::<i64>().unwrap(),
            [3, 1]
        );

        let error = batcher
            .batch_indices(&dataset, &[0, 4], &device())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "index 4 is out of range for a dataset of 4 samples"
        );
    }
}
