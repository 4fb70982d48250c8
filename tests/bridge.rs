//! The bridge from a Burn `SpikingMlp` to the causal estimators (issue 6, point 2): on the same
//! input and the same noise sample, the estimators' linearised propagation equals Burn's
//! autodiff gradient of the model's loss, weight by weight.

#![allow(deprecated)] // Device::ndarray(), Burn's CPU device by name

use std::sync::Mutex;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::bridge::{
    BridgeError, CausalMlp, LinearGradient, autodiff_gradients, labels, sequences,
};
use spikeburn::causal::{NoiseStreams, PropagationMode, propagated_parameters};
use spikeburn::nn::loss::{cross_entropy, max_over_time};
use spikeburn::nn::neuron::Reset;
use spikeburn::nn::{SpikingMlp, SpikingMlpConfig};
use spikeburn::{Firing, Noise, SpikeMode};

/// The backend's random generator is global: the tests seed it and draw from it under this lock,
/// so that tests running in parallel threads do not draw from each other's streams.
static RANDOM: Mutex<()> = Mutex::new(());

const STEPS: usize = 10;
const BATCH: usize = 4;
const SIZES: [usize; 4] = [5, 8, 6, 3];

fn model(noise: Noise, device: &Device) -> SpikingMlp {
    device.seed(7);
    SpikingMlpConfig::new(SIZES.to_vec())
        .with_decay(0.85)
        .with_readout_decay(0.9)
        .with_threshold(0.3)
        .with_reset_gradient(true)
        .with_firing(Firing::new(noise, SpikeMode::EscapeNoise))
        .init(device)
}

/// One noise tensor `[time, batch, hidden]` per hidden layer, from each sample's streams in the
/// causal network's node order (step, then layer, then unit).
fn noise_tensors(streams: &[NoiseStreams], device: &Device) -> Vec<Tensor<3>> {
    let units: usize = SIZES[1..SIZES.len() - 1].iter().sum();
    let mut offset = 0;
    let mut tensors = Vec::new();
    for &width in &SIZES[1..SIZES.len() - 1] {
        let mut values = Vec::with_capacity(STEPS * BATCH * width);
        for t in 0..STEPS {
            for stream in streams {
                let start = t * units + offset;
                values.extend(
                    stream.values()[start..start + width]
                        .iter()
                        .map(|&v| v as f32),
                );
            }
        }
        tensors.push(Tensor::from_data(
            TensorData::new(values, [STEPS, BATCH, width]),
            device,
        ));
        offset += width;
    }
    tensors
}

/// `|a - b| <= 1e-5 |b|` for every component whose size is at least a thousandth of the layer's
/// largest; smaller ones (sums that cancel in f32) within `1e-5` of the layer's largest.
/// Returns the largest relative error found.
fn assert_close(name: &str, burn: &[f64], causal: &[f64]) -> f64 {
    let largest = causal.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(
        largest > 0.0,
        "{name}: the gradient is zero, the test would be vacuous"
    );
    let mut worst = 0.0_f64;
    for (k, (a, b)) in burn.iter().zip(causal).enumerate() {
        let relative = (a - b).abs() / b.abs().max(1e-3 * largest);
        assert!(
            relative <= 1e-5,
            "{name}[{k}]: Burn {a}, linearised propagation {b}"
        );
        worst = worst.max(relative);
    }
    worst
}

fn agreement(noise: Noise) {
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Device::ndarray().autodiff();
    let model = model(noise, &device);
    device.seed(11);
    let input = Tensor::<3>::random([STEPS, BATCH, SIZES[0]], Distribution::Default, &device);
    let targets =
        Tensor::<1, Int>::from_data(TensorData::new(vec![0_i64, 2, 1, 2], [BATCH]), &device);

    // The causal side: one network per sample, its noise sampled on the host.
    let view = CausalMlp::new(&model).unwrap();
    let inputs = sequences(input.clone());
    let classes = labels(targets.clone());
    let mut rng = StdRng::seed_from_u64(3);
    let networks: Vec<_> = inputs
        .iter()
        .zip(&classes)
        .map(|(input, &target)| view.network(input, target).unwrap())
        .collect();
    let streams: Vec<_> = networks.iter().map(|n| n.sample_noise(&mut rng)).collect();

    // Burn with the same noise: the mean cross-entropy of the maximum readout membrane.
    let output = model.forward_with_noise(input, noise_tensors(&streams, &device));
    let loss = cross_entropy(max_over_time(output.membrane), targets);
    let burn = autodiff_gradients(&model, &loss.backward());

    let mut causal: Option<Vec<LinearGradient>> = None;
    let mut fired = 0.0;
    for (sample, (network, stream)) in networks.iter().zip(&streams).enumerate() {
        let trajectory = network.simulate(stream);
        // The same spikes on both sides, so the gradients compare the same computation.
        let mut offset = 0;
        let units = network.neurons();
        for (layer, spikes) in output.hidden_spikes.iter().enumerate() {
            let width = SIZES[layer + 1];
            let burn_spikes = spikes.clone().narrow(1, sample, 1).into_data();
            let burn_spikes = burn_spikes.convert::<f32>().try_into_vec::<f32>().unwrap();
            for t in 0..STEPS {
                for u in 0..width {
                    let expected = trajectory.spikes()[t * units + offset + u];
                    assert_eq!(
                        burn_spikes[t * width + u] == 1.0,
                        expected,
                        "{noise}: spike"
                    );
                    fired += f64::from(u8::from(expected));
                }
            }
            offset += width;
        }
        let gradient = propagated_parameters(network, &trajectory, PropagationMode::Linearised);
        let layers = view.linear_gradients(&gradient);
        match &mut causal {
            None => causal = Some(layers),
            Some(total) => {
                for (a, b) in total.iter_mut().zip(&layers) {
                    for (x, y) in a.weight.iter_mut().zip(&b.weight) {
                        *x += y;
                    }
                    for (x, y) in a.bias.iter_mut().flatten().zip(b.bias.iter().flatten()) {
                        *x += y;
                    }
                }
            }
        }
    }
    // Neither silent nor saturated, so every path of the backward is exercised.
    let rate = fired / (BATCH * STEPS * (SIZES[1] + SIZES[2])) as f64;
    assert!((0.1..0.9).contains(&rate), "{noise}: firing rate {rate}");

    let causal = causal.unwrap();
    let mut worst = 0.0_f64;
    for (layer, (burn, causal)) in burn.iter().zip(&causal).enumerate() {
        // Burn's loss is the batch mean.
        let mean =
            |values: &[f64]| -> Vec<f64> { values.iter().map(|v| v / BATCH as f64).collect() };
        let name = format!("{noise} linears[{layer}]");
        worst = worst.max(assert_close(
            &format!("{name}.weight"),
            &burn.weight,
            &mean(&causal.weight),
        ));
        let (burn, causal) = (burn.bias.as_ref().unwrap(), causal.bias.as_ref().unwrap());
        worst = worst.max(assert_close(&format!("{name}.bias"), burn, &mean(causal)));
    }
    eprintln!("{noise}: firing rate {rate:.2}, largest relative difference {worst:.1e}");
}

#[test]
fn linearised_propagation_equals_autodiff_logistic() {
    agreement(Noise::logistic(0.2).unwrap());
}

#[test]
fn linearised_propagation_equals_autodiff_gaussian() {
    agreement(Noise::gaussian(0.3).unwrap());
}

#[test]
fn linearised_propagation_equals_autodiff_cauchy() {
    agreement(Noise::cauchy(0.15).unwrap());
}

#[test]
fn linearised_propagation_equals_autodiff_triangular() {
    agreement(Noise::triangular(0.5).unwrap());
}

#[test]
fn a_zero_reset_is_refused_by_name() {
    let device = Device::ndarray();
    let model = SpikingMlpConfig::new(vec![2, 3, 2])
        .with_reset(Reset::Zero)
        .init(&device);
    let error = CausalMlp::new(&model).unwrap_err();
    assert!(matches!(error, BridgeError::Reset { layer: 0, .. }));
    assert!(error.to_string().contains("Subtract"), "{error}");
}
