//! Dynamics of every layer against closed forms and step-by-step f64 simulations, and the
//! checks of configs, state and records.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use spikeburn_noise::Noise;

use super::*;
use crate::{Firing, SpikeMode};

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    let data = tensor.into_data().try_into_vec::<f32>().unwrap();
    data.into_iter().map(f64::from).collect()
}

/// A `[time, 1, 1]` input holding `current` at every step.
fn constant(current: f64, time: usize) -> Tensor<3> {
    Tensor::full([time, 1, 1], current, &device())
}

/// The f64 LIF recurrence with constant input, returning spikes and pre-reset membranes.
fn lif_reference(
    current: f64,
    decay: f64,
    threshold: f64,
    reset: Reset,
    time: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (mut v, mut spikes, mut membranes) = (0.0, vec![], vec![]);
    for _ in 0..time {
        v = decay * v + current;
        let spike = if v >= threshold { 1.0 } else { 0.0 };
        membranes.push(v);
        spikes.push(spike);
        v = match reset {
            Reset::Subtract => v - spike * threshold,
            Reset::Zero => v * (1.0 - spike),
            Reset::None => v,
        };
    }
    (spikes, membranes)
}

fn assert_close(got: &[f64], want: &[f64], tolerance: f64, context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (t, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tolerance * b.abs().max(1.0),
            "{context} at {t}: {a} vs {b}"
        );
    }
}

#[test]
fn lif_membrane_follows_the_geometric_sum_until_threshold() {
    let (current, decay, threshold) = (0.25, 0.9, 1.0);
    // v_t = I (1 - d^t) / (1 - d) for t = 1, 2, ..; it first reaches 1 at t = 5 (1.0238).
    let first_spike = (1..)
        .find(|&t| current * (1.0 - decay_pow(decay, t)) / (1.0 - decay) >= threshold)
        .unwrap();
    assert_eq!(first_spike, 5);

    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        let layer = LifConfig::new(1)
            .with_decay(decay)
            .with_reset(reset)
            .init(&device());
        let train = layer.forward(constant(current, 30), None, true);
        let spikes = values(train.spikes);
        let membrane = values(train.membrane.unwrap());

        for t in 1..=first_spike {
            let closed_form = current * (1.0 - decay_pow(decay, t)) / (1.0 - decay);
            assert!(
                (membrane[t - 1] - closed_form).abs() < 1e-6,
                "{reset:?} at {t}"
            );
        }
        assert_eq!(spikes.iter().position(|&s| s == 1.0), Some(first_spike - 1));

        let (reference_spikes, reference_membrane) =
            lif_reference(current, decay, threshold, reset, 30);
        assert_eq!(spikes, reference_spikes, "{reset:?}");
        assert_close(&membrane, &reference_membrane, 1e-5, &format!("{reset:?}"));
    }
}

fn decay_pow(decay: f64, t: usize) -> f64 {
    decay.powi(t as i32)
}

#[test]
fn reset_modes_differ_as_documented() {
    // Input 0.5 reaches the threshold at step 3 (1.355). Reset to zero restarts the count, so
    // it fires every third step; subtraction keeps the overshoot and fires more often; without
    // a reset the neuron fires at every step from then on.
    let (zero, _) = lif_reference(0.5, 0.9, 1.0, Reset::Zero, 12);
    let (subtract, _) = lif_reference(0.5, 0.9, 1.0, Reset::Subtract, 12);
    let (none, _) = lif_reference(0.5, 0.9, 1.0, Reset::None, 12);
    let fired = |spikes: &[f64]| {
        (0..12)
            .filter(|&t| spikes[t] == 1.0)
            .map(|t| t + 1)
            .collect()
    };
    let zero_times: Vec<usize> = fired(&zero);
    assert_eq!(zero_times, [3, 6, 9, 12]);
    assert!(subtract.iter().sum::<f64>() > 4.0);
    assert!(none[2..].iter().all(|&s| s == 1.0));

    for (reset, expected) in [
        (Reset::Zero, zero),
        (Reset::Subtract, subtract),
        (Reset::None, none),
    ] {
        let layer = LifConfig::new(1)
            .with_decay(0.9)
            .with_reset(reset)
            .init(&device());
        assert_eq!(
            values(layer.forward(constant(0.5, 12), None, false).spikes),
            expected
        );
    }
}

#[test]
fn if_neurons_count_their_input() {
    // With no leak and subtraction, a constant input of 0.25 (exact in binary) fires each time
    // the running sum reaches a multiple of the threshold: at steps 4 and 8.
    let layer = IfConfig::new(1).init(&device());
    let spikes = values(layer.forward(constant(0.25, 10), None, false).spikes);
    let fired: Vec<usize> = (0..10)
        .filter(|&t| spikes[t] == 1.0)
        .map(|t| t + 1)
        .collect();
    assert_eq!(fired, [4, 8]);
}

#[test]
fn synaptic_impulse_response_is_the_difference_of_exponentials() {
    // A unit impulse at t = 0 with no spike: v_t = (b^(t+1) - a^(t+1)) / (b - a).
    let (a, b) = (0.5, 0.8);
    let layer = SynapticConfig::new(1)
        .with_synapse_decay(a)
        .with_decay(b)
        .with_threshold(10.0)
        .init(&device());
    let mut impulse = vec![0.0f32; 8];
    impulse[0] = 1.0;
    let input = Tensor::<1>::from_floats(impulse.as_slice(), &device()).reshape([8, 1, 1]);
    let membrane = values(layer.forward(input, None, true).membrane.unwrap());
    for (t, &v) in membrane.iter().enumerate() {
        let power = (t + 1) as i32;
        let closed_form = (b.powi(power) - a.powi(power)) / (b - a);
        assert!(
            (v - closed_form).abs() < 1e-6,
            "t = {t}: {v} vs {closed_form}"
        );
    }
}

#[test]
fn synaptic_spikes_follow_the_two_stage_recurrence() {
    let (a, b, threshold, current) = (0.6, 0.9, 1.5, 0.25);
    let layer = SynapticConfig::new(1)
        .with_synapse_decay(a)
        .with_decay(b)
        .with_threshold(threshold)
        .init(&device());
    let spikes = values(layer.forward(constant(current, 40), None, false).spikes);

    let (mut i, mut v, mut expected) = (0.0, 0.0, vec![]);
    for _ in 0..40 {
        i = a * i + current;
        v = b * v + i;
        let spike = if v >= threshold { 1.0 } else { 0.0 };
        v -= spike * threshold;
        expected.push(spike);
    }
    assert_eq!(spikes, expected);
    assert!(
        expected.iter().sum::<f64>() >= 3.0,
        "the case should spike several times"
    );
}

#[test]
fn adaptive_threshold_spaces_out_the_spikes() {
    let (current, decay, threshold, beta, rho) = (0.6, 0.9, 1.0, 0.5, 0.8);
    let layer = AdaptiveLifConfig::new(1)
        .with_decay(decay)
        .with_threshold(threshold)
        .with_adaptation(beta)
        .with_adaptation_decay(rho)
        .init(&device());
    let spikes = values(layer.forward(constant(current, 40), None, false).spikes);

    let (mut v, mut adaptation, mut expected) = (0.0, 0.0, vec![]);
    for _ in 0..40 {
        v = decay * v + current;
        let effective = threshold + beta * adaptation;
        let spike = if v >= effective { 1.0 } else { 0.0 };
        v -= spike * effective;
        adaptation = rho * adaptation + spike;
        expected.push(spike);
    }
    assert_eq!(spikes, expected);

    let plain = LifConfig::new(1).with_decay(decay).init(&device());
    let plain_spikes = values(plain.forward(constant(current, 40), None, false).spikes);
    assert!(expected.iter().sum::<f64>() < plain_spikes.iter().sum::<f64>());
}

#[test]
fn recurrent_spikes_arrive_one_step_later() {
    // Neuron 1 is driven over threshold at t = 0; its spike reaches neuron 0 through a weight
    // of 2 at t = 1, and nothing else drives neuron 0.
    let mut layer = RecurrentLifConfig::new(2).with_decay(0.5).init(&device());
    // Linear weights are [from, to]: row 1 (from neuron 1), column 0 (to neuron 0).
    let weights = Tensor::<2>::from_floats([[0.0, 0.0], [2.0, 0.0]], &device());
    layer.recurrent.weight = Param::from_tensor(weights);

    let input = Tensor::<3>::from_floats([[[0.0, 1.5]], [[0.0, 0.0]], [[0.0, 0.0]]], &device());
    let train = layer.forward(input, None, true);
    assert_eq!(values(train.spikes), [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    // Membranes before reset: neuron 1 at 1.5, then 0.5 * 0.5 = 0.25; neuron 0 gets 2 at t = 1.
    assert_close(
        &values(train.membrane.unwrap()),
        &[0.0, 1.5, 2.0, 0.25, 0.5, 0.125],
        1e-6,
        "membrane",
    );
}

#[test]
fn readout_integrates_without_firing() {
    let layer = LeakyReadoutConfig::new(1).with_decay(0.5).init(&device());
    let (membrane, state) = layer.forward(constant(1.0, 4), None);
    assert_close(&values(membrane), &[1.0, 1.5, 1.75, 1.875], 1e-6, "readout");
    assert_close(&values(state.membrane), &[1.875], 1e-6, "state");
}

#[test]
fn whole_sequences_equal_loops_of_steps_in_value_and_gradient() {
    let device = device().autodiff();
    let firing = Firing::new(Noise::logistic(0.2).unwrap(), SpikeMode::Deterministic);
    let layer = LifConfig::new(3)
        .with_decay(0.8)
        .with_learn_decay(true)
        .with_firing(firing)
        .init(&device);
    let uniform = burn::tensor::Distribution::Uniform(0.0, 0.8);
    let input = Tensor::<3>::random([6, 2, 3], uniform, &device).require_grad();
    let weights = Tensor::<3>::random([6, 2, 3], uniform, &device);

    let train = layer.forward(input.clone(), None, false);
    let sequence_gradients = (train.spikes.clone() * weights.clone()).sum().backward();

    let mut state = LifState::zeros(2, 3, &device);
    let mut steps = vec![];
    for t in 0..6 {
        let step = input.clone().narrow(0, t, 1).reshape([2, 3]);
        let (spikes, next) = layer.forward_step(step, state);
        steps.push(spikes);
        state = next;
    }
    let stepped = Tensor::stack::<3>(steps, 0);
    let step_gradients = (stepped.clone() * weights).sum().backward();

    assert_eq!(values(train.spikes), values(stepped));
    assert_eq!(values(train.state.membrane), values(state.membrane));
    // The fused backward adds the paths into each step in another order than autodiff does.
    assert_close(
        &values(input.grad(&sequence_gradients).unwrap()),
        &values(input.grad(&step_gradients).unwrap()),
        1e-6,
        "input gradient",
    );
    // The sequence resolves the decay's sigmoid once and sums the step gradients before its
    // derivative; the steps apply the derivative at every step. Same value, other rounding.
    let logit = layer.decay.logit.as_ref().unwrap();
    assert_close(
        &values(logit.grad(&sequence_gradients).unwrap()),
        &values(logit.grad(&step_gradients).unwrap()),
        1e-6,
        "decay logit gradient",
    );
}

#[test]
fn state_does_not_leak_between_batches() {
    let device = device();
    let layer = LifConfig::new(4).with_decay(0.9).init(&device);
    let first = Tensor::<3>::random(
        [5, 3, 4],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let second = Tensor::<3>::random(
        [5, 3, 4],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );

    let _ = layer.forward(first, None, false);
    let after = values(layer.forward(second.clone(), None, false).spikes);
    let fresh_layer = LifConfig::new(4).with_decay(0.9).init(&device);
    let fresh = values(fresh_layer.forward(second.clone(), None, false).spikes);
    assert_eq!(after, fresh);

    // Continuing from a state is explicit: it changes the output.
    let state = LifState {
        membrane: Tensor::full([3, 4], 0.9, &device),
    };
    let continued = values(layer.forward(second, Some(state), false).spikes);
    assert_ne!(continued, fresh);
}

#[test]
fn learnable_decay_stays_in_range_and_gets_a_gradient() {
    let device = device().autodiff();
    let firing = Firing::new(Noise::gaussian(0.5).unwrap(), SpikeMode::Deterministic);
    let layer = LifConfig::new(2)
        .with_decay(0.99)
        .with_learn_decay(true)
        .with_learn_threshold(true)
        .with_firing(firing)
        .init(&device);
    let decays = values(layer.decay.values(2, &device));
    assert_close(&decays, &[0.99, 0.99], 1e-6, "initial decay");

    let input = Tensor::<3>::full([8, 1, 2], 0.2, &device);
    let spikes = layer.forward(input, None, false).spikes;
    let gradients = spikes.sum().backward();
    let decay_gradient = values(
        layer
            .decay
            .logit
            .as_ref()
            .unwrap()
            .grad(&gradients)
            .unwrap(),
    );
    let threshold_gradient = values(
        layer
            .threshold
            .learned
            .as_ref()
            .unwrap()
            .grad(&gradients)
            .unwrap(),
    );
    assert!(
        decay_gradient.iter().all(|&g| g > 0.0),
        "{decay_gradient:?}"
    );
    assert!(
        threshold_gradient.iter().all(|&g| g < 0.0),
        "{threshold_gradient:?}"
    );
}

#[test]
fn invalid_configs_name_the_value_and_the_range() {
    let cases: Vec<(Result<(), crate::NnError>, &str)> = vec![
        (
            LifConfig::new(4).with_decay(1.2).validate(),
            "Lif: decay must be a decay in (0, 1], got 1.2",
        ),
        (
            LifConfig::new(4)
                .with_decay(1.0)
                .with_learn_decay(true)
                .validate(),
            "Lif: decay must be a learnable decay in (0, 1), got 1",
        ),
        (
            LifConfig::new(4).with_threshold(0.0).validate(),
            "Lif: threshold must be a positive, finite threshold, got 0",
        ),
        (
            LifConfig::new(0).validate(),
            "Lif: neurons must be at least 1, got 0",
        ),
        (
            SynapticConfig::new(2).with_synapse_decay(-0.1).validate(),
            "Synaptic: synapse_decay must be a decay in (0, 1], got -0.1",
        ),
        (
            AdaptiveLifConfig::new(2).with_adaptation(-1.0).validate(),
            "AdaptiveLif: adaptation must be a non-negative, finite threshold increase, got -1",
        ),
        (
            crate::SpikingMlpConfig::new(vec![3]).validate(),
            "SpikingMlp: sizes must be at least two positive widths, [inputs, hidden.., outputs], \
             got [3]",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
}

#[test]
#[should_panic(expected = "Lif: decay must be a decay in (0, 1], got 0")]
fn init_refuses_an_invalid_config() {
    let _ = LifConfig::new(3).with_decay(0.0).init(&device());
}

#[test]
#[should_panic(expected = "Lif expects input [time, batch, 3], got [2, 1, 5]")]
fn forward_refuses_the_wrong_input_width() {
    let layer = LifConfig::new(3).init(&device());
    let _ = layer.forward(Tensor::zeros([2, 1, 5], &device()), None, false);
}

#[test]
fn configs_round_trip_through_json() {
    let firing = Firing::new(Noise::laplace(0.3).unwrap(), SpikeMode::EscapeNoise);
    let config = AdaptiveLifConfig::new(7)
        .with_decay(0.8)
        .with_reset(Reset::Zero)
        .with_firing(firing);
    let json = serde_json::to_string(&config).unwrap();
    let back: AdaptiveLifConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.firing, firing);
    assert_eq!(back.reset, Reset::Zero);
}

#[test]
fn saved_models_reload_to_identical_outputs() {
    let device = device();
    let directory = std::env::temp_dir().join(format!("spikeburn-record-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("mlp.bpk");

    let config = crate::SpikingMlpConfig::new(vec![5, 6, 3]).with_learn_decay(true);
    let model = config.init(&device);
    let input = Tensor::<3>::random(
        [7, 2, 5],
        burn::tensor::Distribution::Bernoulli(0.5),
        &device,
    );
    let before = values(model.forward(input.clone()).membrane);
    model.save_file(&path).unwrap();

    let fresh = config.init(&device); // different random weights
    assert_ne!(values(fresh.forward(input.clone()).membrane), before);
    let loaded = fresh.load_file(&path);
    assert_eq!(values(loaded.forward(input).membrane), before);
    std::fs::remove_dir_all(&directory).unwrap();
}
