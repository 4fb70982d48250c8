//! Encoders that turn values into spike trains `[time, batch, features]`.

use burn::tensor::{Distribution, Int, Tensor};

/// Rate coding: at every step each feature fires with its probability, independently.
///
/// Draws from the device's random generator.
///
/// # Shapes
/// - `probabilities`: `[batch, features]`, values in `[0, 1]`
/// - returns: `[steps, batch, features]` of 0 and 1
pub fn rate(probabilities: Tensor<2>, steps: usize) -> Tensor<3> {
    let [batch, features] = probabilities.dims();
    let uniform = Tensor::<3>::random(
        [steps, batch, features],
        Distribution::Default,
        &probabilities.device(),
    );

    uniform.lower(probabilities.unsqueeze()).float()
}

/// How [`latency`] maps an intensity to a spike time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// `t = round((1 - x) (steps - 1))`: intensity 1 fires at step 0, intensity 0 at the last
    /// step.
    Linear,
    /// The first spike of an RC circuit charged by `x`: `t = tau ln(x / (x - threshold))`,
    /// rounded; intensities at or below `threshold` never fire, nor do times past the window.
    Log {
        /// The circuit's time constant, in steps.
        tau: f64,
        /// The intensity below which a feature never fires, in `[0, 1)`.
        threshold: f64,
    },
}

/// Latency (time-to-first-spike) coding: each feature fires once, earlier the larger it is.
///
/// # Shapes
/// - `intensities`: `[batch, features]`, values in `[0, 1]`
/// - returns: `[steps, batch, features]` with at most one spike per feature
///
/// # Panics
/// If `steps` is 0, or for [`Latency::Log`] if `tau` is not positive or `threshold` is outside
/// `[0, 1)`.
pub fn latency(intensities: Tensor<2>, steps: usize, coding: Latency) -> Tensor<3> {
    assert!(steps > 0, "latency coding needs at least one step, got 0");
    let last = (steps - 1) as f64;

    let (times, fires) = match coding {
        Latency::Linear => {
            let times = (intensities.clone().neg() + 1.0) * last;
            let fires = intensities.ones_like().greater_elem(0.0);
            (times, fires)
        }
        Latency::Log { tau, threshold } => {
            assert!(tau > 0.0, "log latency needs a positive tau, got {tau}");
            assert!(
                (0.0..1.0).contains(&threshold),
                "log latency needs a threshold in [0, 1), got {threshold}"
            );
            let above = intensities.clone().greater_elem(threshold);
            // Below threshold the logarithm is undefined; those features are masked out.
            let safe = intensities.clamp_min(threshold + 1e-6);
            let times = (safe.clone() / (safe - threshold)).log() * tau;
            let fires = above.bool_and(times.clone().lower_equal_elem(last + 0.5));
            (times, fires)
        }
    };

    let times = times.round().int(); // [batch, features]
    let [batch, features] = times.dims();
    let clock = Tensor::<1, Int>::arange(0..steps as i64, &times.device())
        .reshape([steps, 1, 1])
        .expand([steps, batch, features]);
    let at_time = clock.equal(times.unsqueeze::<3>().expand([steps, batch, features]));

    at_time
        .bool_and(fires.unsqueeze::<3>().expand([steps, batch, features]))
        .float()
}

/// Delta coding: a spike where a signal rises by at least `threshold` since the previous step,
/// and with `off_spikes` a spike of -1 where it falls by at least as much. The first step is
/// compared with zero.
///
/// # Shapes
/// - `signal`: `[time, batch, features]`
/// - returns: `[time, batch, features]` of 0 and 1 (and -1 with `off_spikes`)
///
/// # Panics
/// If `threshold` is not positive.
pub fn delta(signal: Tensor<3>, threshold: f64, off_spikes: bool) -> Tensor<3> {
    assert!(
        threshold > 0.0,
        "delta coding needs a positive threshold, got {threshold}"
    );
    let [time, batch, features] = signal.dims();
    let previous = Tensor::cat(
        vec![
            Tensor::zeros([1, batch, features], &signal.device()),
            signal.clone().narrow(0, 0, time.saturating_sub(1)),
        ],
        0,
    );
    let change = signal - previous;

    let on = change.clone().greater_equal_elem(threshold).float();
    if off_spikes {
        on - change.lower_equal_elem(-threshold).float()
    } else {
        on
    }
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    use burn::tensor::{Device, Tensor};

    use super::*;

    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    fn values(tensor: Tensor<3>) -> Vec<f32> {
        tensor.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn rate_coding_fires_at_the_given_rate() {
        let device = device();
        device.seed(3);
        let probabilities = Tensor::<2>::from_floats([[0.0, 0.2, 0.7, 1.0]], &device);
        let steps = 20_000;
        let spikes = rate(probabilities, steps);
        let counts = spikes.sum_dim(0).into_data().try_into_vec::<f32>().unwrap();
        for (count, p) in counts.iter().zip([0.0f64, 0.2, 0.7, 1.0]) {
            let rate = *count as f64 / steps as f64;
            let standard_error = (p * (1.0 - p) / steps as f64).sqrt();
            assert!(
                (rate - p).abs() <= 3.0 * standard_error,
                "rate {rate}, p {p}"
            );
        }
    }

    #[test]
    fn linear_latency_fires_once_at_the_scaled_time() {
        let intensities = Tensor::<2>::from_floats([[1.0, 0.5, 0.0]], &device());
        let spikes = latency(intensities, 5, Latency::Linear);
        assert_eq!(spikes.dims(), [5, 1, 3]);
        // Times: (1 - x) * 4 = 0, 2, 4.
        #[rustfmt::skip]
        let expected = [
            1.0, 0.0, 0.0,
            0.0, 0.0, 0.0,
            0.0, 1.0, 0.0,
            0.0, 0.0, 0.0,
            0.0, 0.0, 1.0,
        ];
        assert_eq!(values(spikes), expected);
    }

    #[test]
    fn log_latency_follows_the_rc_charging_time() {
        let (tau, threshold) = (5.0, 0.1);
        let intensities = [0.05f32, 0.2, 0.6, 1.0];
        let spikes = latency(
            Tensor::<2>::from_floats([intensities], &device()),
            10,
            Latency::Log { tau, threshold },
        );
        let spikes = values(spikes);
        for (feature, &x) in intensities.iter().enumerate() {
            let fired: Vec<usize> = (0..10).filter(|t| spikes[t * 4 + feature] == 1.0).collect();
            let x = x as f64;
            if x <= threshold {
                assert!(fired.is_empty(), "x = {x} fired at {fired:?}");
            } else {
                let time = (tau * (x / (x - threshold)).ln()).round() as usize;
                let expected: Vec<usize> = if time < 10 { vec![time] } else { vec![] };
                assert_eq!(fired, expected, "x = {x}");
            }
        }
    }

    #[test]
    fn delta_coding_marks_rises_and_falls() {
        let signal =
            Tensor::<3>::from_floats([[[0.5]], [[0.55]], [[1.0]], [[0.2]], [[0.3]]], &device());
        assert_eq!(
            values(delta(signal.clone(), 0.3, false)),
            [1.0, 0.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(values(delta(signal, 0.3, true)), [1.0, 0.0, 1.0, -1.0, 0.0]);
    }
}
