//! Losses, a firing-rate regulariser and accuracy for spiking networks.
//!
//! Sequences are `[time, batch, classes]`; targets are class indices `[batch]`.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Mean cross-entropy of `logits` against class `targets`.
///
/// # Shapes
/// - `logits`: `[batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let log_probabilities = log_softmax(logits, 1);
    let chosen = log_probabilities.gather(1, targets.reshape([batch, 1])); // [batch, 1]

    chosen.mean().neg()
}

/// Cross-entropy on the maximum over time of the readout membrane.
///
/// # Shapes
/// - `membrane`: `[time, batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn max_membrane_cross_entropy(membrane: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(max_over_time(membrane), targets)
}

/// Cross-entropy on the mean over time of the readout membrane.
///
/// # Shapes
/// - `membrane`: `[time, batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn mean_membrane_cross_entropy(membrane: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(mean_over_time(membrane), targets)
}

/// Cross-entropy on the spike counts of the output neurons, used as logits.
///
/// # Shapes
/// - `spikes`: `[time, batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn spike_count_cross_entropy(spikes: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(counts(spikes), targets)
}

/// Mean squared error between spike counts and target counts: `correct_rate * time` spikes for
/// the target class, `incorrect_rate * time` for the others.
///
/// # Shapes
/// - `spikes`: `[time, batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn spike_count_mse(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    correct_rate: f64,
    incorrect_rate: f64,
) -> Tensor<1> {
    let [time, _, classes] = spikes.dims();
    let counts = counts(spikes); // [batch, classes]
    let is_target = targets.one_hot::<2>(classes).float();
    let target_counts =
        (is_target * (correct_rate - incorrect_rate) + incorrect_rate) * time as f64;

    (counts - target_counts).powi_scalar(2).mean()
}

/// The first spike time of each neuron, `time` for a neuron that never fires, differentiable
/// through the spikes: `sum_t t s_t prod_{t' < t} (1 - s_t') + time prod_t (1 - s_t)`.
///
/// # Shapes
/// - `spikes`: `[time, batch, neurons]`
/// - returns: `[batch, neurons]`
pub fn first_spike_times(spikes: Tensor<3>) -> Tensor<2> {
    let [time, batch, neurons] = spikes.dims();
    let device = spikes.device();

    let mut silent = Tensor::<2>::ones([batch, neurons], &device); // prod of (1 - s) so far
    let mut times = Tensor::<2>::zeros([batch, neurons], &device);
    for t in 0..time {
        let step = spikes.clone().narrow(0, t, 1).reshape([batch, neurons]);
        times = times + silent.clone() * step.clone() * t as f64;
        silent = silent * (step.neg() + 1.0);
    }

    times + silent * time as f64
}

/// Cross-entropy on negative first spike times: the target neuron should fire first.
///
/// # Shapes
/// - `spikes`: `[time, batch, classes]`
/// - `targets`: `[batch]`
/// - returns: `[1]`
pub fn first_spike_cross_entropy(spikes: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(first_spike_times(spikes).neg(), targets)
}

/// A penalty on neurons whose mean firing rate per step leaves `[lower, upper]`:
/// `sum_n relu(lower - r_n)^2 + relu(r_n - upper)^2`, with `r_n` the rate of neuron `n` over
/// time and batch.
///
/// # Shapes
/// - `spikes`: `[time, batch, neurons]`
/// - returns: `[1]`
pub fn rate_regulariser(spikes: Tensor<3>, lower: f64, upper: f64) -> Tensor<1> {
    let [time, batch, neurons] = spikes.dims();
    let rates = spikes.sum_dims(&[0, 1]).reshape([neurons]) / (time * batch) as f64;
    let too_low = (rates.clone().neg() + lower).clamp_min(0.0);
    let too_high = (rates - upper).clamp_min(0.0);

    (too_low.powi_scalar(2) + too_high.powi_scalar(2)).sum()
}

/// The fraction of rows of `logits` whose largest entry is the target class.
///
/// # Shapes
/// - `logits`: `[batch, classes]`
/// - `targets`: `[batch]`
pub fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> f64 {
    let [batch, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([batch]);
    let correct = predicted.equal(targets).int().sum().into_scalar::<i64>();

    correct as f64 / batch as f64
}

/// The maximum over time, the logits of the max-membrane losses.
///
/// # Shapes
/// - `sequence`: `[time, batch, classes]`
/// - returns: `[batch, classes]`
pub fn max_over_time(sequence: Tensor<3>) -> Tensor<2> {
    let [_, batch, classes] = sequence.dims();
    sequence.max_dim(0).reshape([batch, classes])
}

/// The mean over time, `[time, batch, classes]` to `[batch, classes]`.
pub fn mean_over_time(sequence: Tensor<3>) -> Tensor<2> {
    let [_, batch, classes] = sequence.dims();
    sequence.mean_dim(0).reshape([batch, classes])
}

/// Spike counts over time, `[time, batch, neurons]` to `[batch, neurons]`.
pub fn counts(spikes: Tensor<3>) -> Tensor<2> {
    let [_, batch, neurons] = spikes.dims();
    spikes.sum_dim(0).reshape([batch, neurons])
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    use burn::tensor::{Device, Int, Tensor};

    use super::*;

    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    fn scalar(tensor: Tensor<1>) -> f64 {
        tensor.into_data().try_into_vec::<f32>().unwrap()[0] as f64
    }

    #[test]
    fn cross_entropy_matches_the_log_sum_exp_formula() {
        let logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]];
        let targets = [1i64, 0];
        let expected: f64 = logits
            .iter()
            .zip(targets)
            .map(|(row, target)| {
                let log_sum: f64 = row.iter().map(|&z: &f64| z.exp()).sum::<f64>().ln();
                log_sum - row[target as usize]
            })
            .sum::<f64>()
            / 2.0;
        let loss = cross_entropy(
            Tensor::<2>::from_floats(logits, &device()),
            Tensor::<1, Int>::from_ints(targets, &device()),
        );
        assert!((scalar(loss) - expected).abs() < 1e-6);
    }

    #[test]
    fn first_spike_times_and_their_loss() {
        // Two neurons over four steps: the first fires at 1 and 3, the second never.
        let spikes = Tensor::<3>::from_floats(
            [[[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]], [[1.0, 0.0]]],
            &device(),
        );
        let times = first_spike_times(spikes.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(times, [1.0, 4.0]);

        let loss = first_spike_cross_entropy(spikes, Tensor::from_ints([0], &device()));
        let expected = (1.0f64 + (-3.0f64).exp()).ln(); // logits -1 and -4, target 0
        assert!((scalar(loss) - expected).abs() < 1e-6);
    }

    #[test]
    fn count_losses_and_regulariser() {
        // Three steps, one sample, two classes: counts 2 and 1.
        let spikes =
            Tensor::<3>::from_floats([[[1.0, 0.0]], [[1.0, 1.0]], [[0.0, 0.0]]], &device());
        let targets = Tensor::<1, Int>::from_ints([0], &device());

        let mse = spike_count_mse(spikes.clone(), targets.clone(), 1.0, 0.0);
        assert!((scalar(mse) - (1.0 + 1.0) / 2.0).abs() < 1e-6); // targets 3 and 0

        let expected = (1.0f64 + (-1.0f64).exp()).ln(); // logits 2 and 1
        assert!(
            (scalar(spike_count_cross_entropy(spikes.clone(), targets)) - expected).abs() < 1e-6
        );

        // Rates 2/3 and 1/3 against [0.4, 0.5]: (2/3 - 0.5)^2 + (0.4 - 1/3)^2.
        let penalty = rate_regulariser(spikes, 0.4, 0.5);
        let expected = (2.0 / 3.0 - 0.5f64).powi(2) + (0.4 - 1.0 / 3.0f64).powi(2);
        assert!((scalar(penalty) - expected).abs() < 1e-6);
    }

    #[test]
    fn membrane_losses_pick_the_max_and_the_mean() {
        let membrane = Tensor::<3>::from_floats([[[0.0, 2.0]], [[3.0, 1.0]]], &device());
        let targets = Tensor::<1, Int>::from_ints([1], &device());
        let max = (1.0f64 + 1.0f64.exp()).ln(); // logits 3 and 2, target 1
        let mean = (1.0f64 + 0.0f64.exp()).ln(); // logits 1.5 and 1.5
        assert!(
            (scalar(max_membrane_cross_entropy(
                membrane.clone(),
                targets.clone()
            )) - max)
                .abs()
                < 1e-6
        );
        assert!((scalar(mean_membrane_cross_entropy(membrane, targets)) - mean).abs() < 1e-6);
    }

    #[test]
    fn accuracy_counts_the_argmax_hits() {
        let logits = Tensor::<2>::from_floats([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], &device());
        let targets = Tensor::<1, Int>::from_ints([1, 1, 1], &device());
        assert!((accuracy(logits, targets) - 2.0 / 3.0).abs() < 1e-12);
    }
}
