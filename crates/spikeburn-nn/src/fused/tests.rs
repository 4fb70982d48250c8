//! The fused ops against the per-step reference, on every compiled backend: spikes equal,
//! membranes, states and every gradient within 1e-5 of the largest.

#![allow(deprecated)]

use burn::module::Param;
use burn::nn::LinearConfig;
use burn::tensor::{Device, Distribution, Tensor};
use spikeburn_noise::Noise;

use super::{SparseInput, project};
use crate::neuron::{
    AdaptiveLifConfig, AdaptiveLifState, LeakyReadoutConfig, LifConfig, LifState,
    RecurrentLifConfig, RecurrentLifState, Reset, SynapticConfig, SynapticState,
};
use crate::noise::sample_noise;
use crate::{Firing, SpikeMode};

const TIME: usize = 12;
const BATCH: usize = 3;
const NEURONS: usize = 5;

/// Every backend this build has, with autodiff.
fn devices() -> Vec<(&'static str, Device)> {
    vec![
        #[cfg(feature = "ndarray")]
        ("ndarray", Device::ndarray().autodiff()),
        #[cfg(feature = "flex")]
        ("flex", Device::flex().autodiff()),
        #[cfg(feature = "wgpu")]
        (
            "wgpu",
            Device::wgpu(burn::tensor::DeviceKind::DefaultDevice).autodiff(),
        ),
    ]
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().to_vec().unwrap()
}

/// Asserts `got` equals `want` within `1e-5` of the largest `|want|`.
fn assert_close(got: &[f32], want: &[f32], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}: lengths");
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * scale.max(1e-6),
            "{context}[{i}]: fused {g}, per step {w} (scale {scale})"
        );
    }
}

/// Asserts that a fused run agrees with its per-step reference: the spikes, the first entry,
/// exactly and at a firing rate within `rate` (so that both branches of the threshold are
/// exercised), every other entry within [`assert_close`].
fn assert_spiking_match(
    fused: &[(&str, Vec<f32>)],
    reference: &[(&str, Vec<f32>)],
    rate: core::ops::Range<f32>,
    context: &str,
) {
    let spikes = &fused[0].1;
    let fired = spikes.iter().sum::<f32>() / spikes.len() as f32;
    assert!(rate.contains(&fired), "{context}: firing rate {fired}");
    assert_eq!(spikes, &reference[0].1, "{context}: spikes");
    for ((what, got), (_, want)) in fused.iter().zip(reference) {
        assert_close(got, want, &format!("{context}: {what}"));
    }
}

fn gradient<const D: usize>(tensor: &Tensor<D>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    values(tensor.grad(grads).expect("a gradient reaches the tensor"))
}

fn param_gradient(param: &Option<Param<Tensor<1>>>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    gradient(&param.as_ref().expect("a learned parameter").val(), grads)
}

/// A random sequence and loss weights for every output of a layer.
struct Case {
    current: Tensor<3>,
    initial: Tensor<2>,
    weights: [Tensor<3>; 2],
    last_weights: Tensor<2>,
}

impl Case {
    fn new(device: &Device, seed: u64) -> Self {
        device.seed(seed);
        let shape = [TIME, BATCH, NEURONS];
        let uniform = |low, high| Distribution::Uniform(low, high);
        Case {
            current: Tensor::random(shape, uniform(-0.2, 0.8), device).require_grad(),
            initial: Tensor::random([BATCH, NEURONS], uniform(0.0, 0.9), device).require_grad(),
            weights: [
                Tensor::random(shape, uniform(-1.0, 1.0), device),
                Tensor::random(shape, uniform(-1.0, 1.0), device),
            ],
            last_weights: Tensor::random([BATCH, NEURONS], uniform(-1.0, 1.0), device),
        }
    }
}

/// A learned per-neuron parameter (`[NEURONS]`) moved by `scale` times -1, -0.5, 0, 0.5 and 1,
/// so that a lane given another neuron's value shows.
fn spread(
    param: Option<Param<Tensor<1>>>,
    scale: f32,
    device: &Device,
) -> Option<Param<Tensor<1>>> {
    let offsets = Tensor::<1>::from_floats([-1.0, -0.5, 0.0, 0.5, 1.0], device) * scale;
    param.map(|param| param.map(|value| (value + offsets).detach().require_grad()))
}

#[test]
fn lif_matches_per_step_for_every_reset_and_parameter() {
    for (name, device) in devices() {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            for reset_gradient in [false, true] {
                for learn in [false, true] {
                    let context =
                        format!("{name} {reset:?} reset_gradient={reset_gradient} learn={learn}");
                    let firing =
                        Firing::new(Noise::logistic(0.3).unwrap(), SpikeMode::Deterministic);
                    let mut layer = LifConfig::new(NEURONS)
                        .with_decay(0.85)
                        .with_threshold(0.9)
                        .with_reset(reset)
                        .with_reset_gradient(reset_gradient)
                        .with_learn_decay(learn)
                        .with_learn_threshold(learn)
                        .with_firing(firing)
                        .init(&device);
                    layer.decay.logit = spread(layer.decay.logit, 1.0, &device);
                    layer.threshold.learned = spread(layer.threshold.learned, 0.2, &device);
                    let case = Case::new(&device, 7);
                    let run = |fused: bool| {
                        let state = LifState {
                            membrane: case.initial.clone(),
                        };
                        // With the reset gradient, the fused scan gets a fresh current, whose
                        // buffer takes the membranes; without, one the test still holds.
                        let train = match (fused, reset_gradient) {
                            (true, true) => {
                                layer.forward(case.current.clone() * 1.0, Some(state), true)
                            }
                            (true, false) => layer.forward(case.current.clone(), Some(state), true),
                            (false, _) => {
                                layer.forward_per_step(case.current.clone(), Some(state), true)
                            }
                        };
                        let membrane = train.membrane.unwrap();
                        let loss = (train.spikes.clone() * case.weights[0].clone()).sum()
                            + (membrane.clone() * case.weights[1].clone()).sum()
                            + (train.state.membrane.clone() * case.last_weights.clone()).sum();
                        let grads = loss.backward();
                        let mut found = vec![
                            ("spikes", values(train.spikes)),
                            ("membrane", values(membrane)),
                            ("state", values(train.state.membrane)),
                            ("d current", gradient(&case.current, &grads)),
                            ("d initial", gradient(&case.initial, &grads)),
                        ];
                        if learn {
                            found.push(("d decay", param_gradient(&layer.decay.logit, &grads)));
                            found.push((
                                "d threshold",
                                param_gradient(&layer.threshold.learned, &grads),
                            ));
                        }
                        found
                    };
                    assert_spiking_match(&run(true), &run(false), 0.1..0.9, &context);
                }
            }
        }
    }
}

#[test]
fn lif_without_membrane_matches_per_step() {
    // With and without autodiff: without it, the native loops write no membrane sequence.
    let plain = [
        #[cfg(feature = "ndarray")]
        ("ndarray", Device::ndarray()),
        #[cfg(feature = "flex")]
        ("flex", Device::flex()),
    ];
    for (name, device) in devices().into_iter().chain(plain) {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            let context = format!("{name} {reset:?}");
            let layer = LifConfig::new(NEURONS)
                .with_decay(0.85)
                .with_threshold(0.9)
                .with_reset(reset)
                .init(&device);
            device.seed(11);
            let current = Tensor::<3>::random(
                [TIME, BATCH, NEURONS],
                Distribution::Uniform(-0.2, 0.8),
                &device,
            );
            let initial =
                Tensor::<2>::random([BATCH, NEURONS], Distribution::Uniform(0.0, 0.9), &device);
            let state = || LifState {
                membrane: initial.clone(),
            };
            let reference = layer.forward_per_step(current.clone(), Some(state()), false);
            // A current the test still holds is copied; a fresh one's buffer takes the spikes.
            for fresh in [false, true] {
                let context = format!("{context} fresh={fresh}");
                let input = if fresh {
                    current.clone() * 1.0
                } else {
                    current.clone()
                };
                let fused = layer.forward(input, Some(state()), false);
                assert!(
                    fused.membrane.is_none(),
                    "{context}: no membrane was asked for"
                );
                let spikes = values(fused.spikes.clone());
                let rate = spikes.iter().sum::<f32>() / spikes.len() as f32;
                assert!((0.1..0.9).contains(&rate), "{context}: firing rate {rate}");
                assert_eq!(
                    spikes,
                    values(reference.spikes.clone()),
                    "{context}: spikes"
                );
                assert_close(
                    &values(fused.state.membrane),
                    &values(reference.state.membrane.clone()),
                    &format!("{context}: state"),
                );
            }
        }
    }
}

#[test]
fn recurrent_lif_matches_per_step_for_every_reset_and_parameter() {
    for (name, device) in devices() {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            for (reset_gradient, learn) in [(false, false), (true, true)] {
                let context =
                    format!("{name} {reset:?} reset_gradient={reset_gradient} learn={learn}");
                let firing = Firing::new(Noise::logistic(0.3).unwrap(), SpikeMode::Deterministic);
                let mut layer = RecurrentLifConfig::new(NEURONS)
                    .with_decay(0.85)
                    .with_threshold(0.9)
                    .with_reset(reset)
                    .with_reset_gradient(reset_gradient)
                    .with_learn_decay(learn)
                    .with_learn_threshold(learn)
                    .with_firing(firing)
                    .init(&device);
                layer.decay.logit = spread(layer.decay.logit, 1.0, &device);
                layer.threshold.learned = spread(layer.threshold.learned, 0.2, &device);
                let case = Case::new(&device, 17);
                let initial_spikes =
                    Tensor::<2>::random([BATCH, NEURONS], Distribution::Bernoulli(0.5), &device)
                        .require_grad();
                let run = |fused: bool| {
                    let state = RecurrentLifState {
                        membrane: case.initial.clone(),
                        spikes: initial_spikes.clone(),
                    };
                    let current = case.current.clone() * 0.7;
                    let train = if fused {
                        layer.forward(current, Some(state), true)
                    } else {
                        layer.forward_per_step(current, Some(state), true)
                    };
                    let membrane = train.membrane.unwrap();
                    let loss = (train.spikes.clone() * case.weights[0].clone()).sum()
                        + (membrane.clone() * case.weights[1].clone()).sum()
                        + (train.state.membrane.clone() * case.last_weights.clone()).sum()
                        + (train.state.spikes.clone() * case.last_weights.clone()).sum();
                    let grads = loss.backward();
                    let mut found = vec![
                        ("spikes", values(train.spikes)),
                        ("membrane", values(membrane)),
                        ("state", values(train.state.membrane)),
                        ("d current", gradient(&case.current, &grads)),
                        ("d initial", gradient(&case.initial, &grads)),
                        ("d initial spikes", gradient(&initial_spikes, &grads)),
                        (
                            "d weight",
                            values(layer.recurrent.weight.val().grad(&grads).unwrap()),
                        ),
                    ];
                    if learn {
                        found.push(("d decay", param_gradient(&layer.decay.logit, &grads)));
                        found.push((
                            "d threshold",
                            param_gradient(&layer.threshold.learned, &grads),
                        ));
                    }
                    found
                };
                assert_spiking_match(&run(true), &run(false), 0.1..0.9, &context);
            }
        }
    }
}

#[test]
fn adaptive_lif_matches_per_step_for_every_reset_and_parameter() {
    for (name, device) in devices() {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            for (reset_gradient, learn) in [(false, false), (true, true), (false, true)] {
                let context =
                    format!("{name} {reset:?} reset_gradient={reset_gradient} learn={learn}");
                let firing = Firing::new(Noise::logistic(0.3).unwrap(), SpikeMode::Deterministic);
                let mut layer = AdaptiveLifConfig::new(NEURONS)
                    .with_decay(0.85)
                    .with_threshold(0.7)
                    .with_adaptation(0.3)
                    .with_adaptation_decay(0.9)
                    .with_reset(reset)
                    .with_reset_gradient(reset_gradient)
                    .with_learn_decay(learn)
                    .with_learn_threshold(learn)
                    .with_firing(firing)
                    .init(&device);
                layer.decay.logit = spread(layer.decay.logit, 1.0, &device);
                layer.threshold.learned = spread(layer.threshold.learned, 0.2, &device);
                let case = Case::new(&device, 23);
                let initial_adaptation =
                    Tensor::<2>::random([BATCH, NEURONS], Distribution::Uniform(0.0, 1.0), &device)
                        .require_grad();
                let run = |fused: bool| {
                    let state = AdaptiveLifState {
                        membrane: case.initial.clone(),
                        adaptation: initial_adaptation.clone(),
                    };
                    let train = if fused {
                        layer.forward(case.current.clone(), Some(state), true)
                    } else {
                        layer.forward_per_step(case.current.clone(), Some(state), true)
                    };
                    let membrane = train.membrane.unwrap();
                    let loss = (train.spikes.clone() * case.weights[0].clone()).sum()
                        + (membrane.clone() * case.weights[1].clone()).sum()
                        + (train.state.membrane.clone() * case.last_weights.clone()).sum()
                        + (train.state.adaptation.clone() * case.last_weights.clone() * 0.5).sum();
                    let grads = loss.backward();
                    let mut found = vec![
                        ("spikes", values(train.spikes)),
                        ("membrane", values(membrane)),
                        ("state", values(train.state.membrane)),
                        ("adaptation", values(train.state.adaptation)),
                        ("d current", gradient(&case.current, &grads)),
                        ("d initial", gradient(&case.initial, &grads)),
                        (
                            "d initial adaptation",
                            gradient(&initial_adaptation, &grads),
                        ),
                    ];
                    if learn {
                        found.push(("d decay", param_gradient(&layer.decay.logit, &grads)));
                        found.push((
                            "d threshold",
                            param_gradient(&layer.threshold.learned, &grads),
                        ));
                    }
                    found
                };
                assert_spiking_match(&run(true), &run(false), 0.1..0.9, &context);
            }
        }
    }
}

#[test]
fn wide_recurrent_lif_matches_per_step() {
    // A layer wider than the tests' usual five neurons, with an odd number of batch rows, and
    // wide enough that the native backward's `gu @ W^T` spans many weight panels, the last one
    // part empty.
    const WIDE: usize = 200;
    for (name, device) in devices() {
        let firing = Firing::new(Noise::logistic(0.3).unwrap(), SpikeMode::Deterministic);
        let layer = RecurrentLifConfig::new(WIDE)
            .with_decay(0.85)
            .with_threshold(0.9)
            .with_reset_gradient(true)
            .with_firing(firing)
            .init(&device);
        device.seed(29);
        let uniform = |low, high| Distribution::Uniform(low, high);
        let current =
            Tensor::<3>::random([TIME, BATCH, WIDE], uniform(-0.2, 0.8), &device).require_grad();
        let weights = Tensor::<3>::random([TIME, BATCH, WIDE], uniform(-1.0, 1.0), &device);
        let run = |fused: bool| {
            let train = if fused {
                layer.forward(current.clone() * 0.7, None, false)
            } else {
                layer.forward_per_step(current.clone() * 0.7, None, false)
            };
            let grads = (train.spikes.clone() * weights.clone()).sum().backward();
            vec![
                ("spikes", values(train.spikes)),
                ("d current", gradient(&current, &grads)),
                (
                    "d weight",
                    values(layer.recurrent.weight.val().grad(&grads).unwrap()),
                ),
            ]
        };
        assert_spiking_match(&run(true), &run(false), 0.05..0.95, name);
    }
}

#[test]
fn lif_with_noise_matches_per_step() {
    for (name, device) in devices() {
        let noise = Noise::gaussian(0.4).unwrap();
        let layer = LifConfig::new(NEURONS)
            .with_decay(0.9)
            .with_reset_gradient(true)
            .with_firing(Firing::new(
                Noise::cauchy(0.3).unwrap(),
                SpikeMode::EscapeNoise,
            ))
            .init(&device);
        let case = Case::new(&device, 11);
        let sample: Tensor<3> = sample_noise(&noise, [TIME, BATCH, NEURONS], &device);
        let run = |fused: bool| {
            let train = if fused {
                layer.forward_with_noise(case.current.clone(), sample.clone(), None, false)
            } else {
                layer.forward_with_noise_per_step(case.current.clone(), sample.clone(), None, false)
            };
            let loss = (train.spikes.clone() * case.weights[0].clone()).sum();
            let grads = loss.backward();
            (values(train.spikes), gradient(&case.current, &grads))
        };
        let ((spikes, grad), (want_spikes, want_grad)) = (run(true), run(false));
        assert_eq!(spikes, want_spikes, "{name}: spikes");
        assert_close(&grad, &want_grad, &format!("{name}: d current"));
    }
}

#[test]
fn synaptic_matches_per_step() {
    for (name, device) in devices() {
        for learn in [false, true] {
            let mut layer = SynapticConfig::new(NEURONS)
                .with_synapse_decay(0.8)
                .with_decay(0.9)
                .with_learn_decay(learn)
                .with_learn_threshold(learn)
                .with_reset_gradient(true)
                .with_firing(Firing::new(
                    Noise::logistic(0.3).unwrap(),
                    SpikeMode::Deterministic,
                ))
                .init(&device);
            layer.decay.logit = spread(layer.decay.logit, 1.0, &device);
            layer.threshold.learned = spread(layer.threshold.learned, 0.2, &device);
            layer.synapse_decay.logit = spread(layer.synapse_decay.logit, 1.0, &device);
            let case = Case::new(&device, 5);
            let run = |fused: bool| {
                let state = SynapticState {
                    current: case.initial.clone() * 0.5,
                    membrane: case.initial.clone(),
                };
                let current = case.current.clone() * 0.6;
                let train = if fused {
                    layer.forward(current, Some(state), true)
                } else {
                    layer.forward_per_step(current, Some(state), true)
                };
                let loss = (train.spikes.clone() * case.weights[0].clone()).sum()
                    + (train.membrane.unwrap() * case.weights[1].clone()).sum()
                    + (train.state.current.clone() * case.last_weights.clone()).sum()
                    + (train.state.membrane.clone() * case.last_weights.clone()).sum();
                let grads = loss.backward();
                let mut found = vec![
                    ("spikes", values(train.spikes)),
                    ("state current", values(train.state.current)),
                    ("d current", gradient(&case.current, &grads)),
                    ("d initial", gradient(&case.initial, &grads)),
                ];
                if learn {
                    found.push((
                        "d synapse decay",
                        param_gradient(&layer.synapse_decay.logit, &grads),
                    ));
                    found.push(("d decay", param_gradient(&layer.decay.logit, &grads)));
                    found.push((
                        "d threshold",
                        param_gradient(&layer.threshold.learned, &grads),
                    ));
                }
                found
            };
            let (fused, reference) = (run(true), run(false));
            let context = format!("{name} learn={learn}");
            assert_eq!(fused[0].1, reference[0].1, "{context}: spikes");
            for ((what, got), (_, want)) in fused.iter().zip(&reference) {
                assert_close(got, want, &format!("{context}: {what}"));
            }
        }
    }
}

#[test]
fn readout_matches_per_step() {
    for (name, device) in devices() {
        for learn in [false, true] {
            let mut readout = LeakyReadoutConfig::new(NEURONS)
                .with_decay(0.8)
                .with_learn_decay(learn)
                .init(&device);
            readout.decay.logit = spread(readout.decay.logit, 1.0, &device);
            let case = Case::new(&device, 3);
            let run = |fused: bool| {
                let state = crate::neuron::LeakyReadoutState {
                    membrane: case.initial.clone(),
                };
                let (membrane, state) = if fused {
                    readout.forward(case.current.clone(), Some(state))
                } else {
                    readout.forward_per_step(case.current.clone(), Some(state))
                };
                let loss = (membrane.clone() * case.weights[0].clone()).sum()
                    + (state.membrane * case.last_weights.clone()).sum();
                let grads = loss.backward();
                let mut found = vec![
                    ("membrane", values(membrane)),
                    ("d current", gradient(&case.current, &grads)),
                    ("d initial", gradient(&case.initial, &grads)),
                ];
                if learn {
                    found.push(("d decay", param_gradient(&readout.decay.logit, &grads)));
                }
                found
            };
            let (fused, reference) = (run(true), run(false));
            for ((what, got), (_, want)) in fused.iter().zip(&reference) {
                assert_close(got, want, &format!("{name} learn={learn}: {what}"));
            }
        }
    }
}

#[test]
fn sparse_projection_matches_the_dense_linear() {
    // Inputs with a remainder after the scan's groups of 8; outputs in whole pieces of 64 (the
    // native gather's collected path) and with a remainder.
    const INPUTS: usize = 19;
    for (name, device) in devices() {
        // Auto at half density stops scanning early and takes the dense product.
        for (outputs, binary, sparse, density) in [
            (128, true, SparseInput::Always, 0.1),
            (128, false, SparseInput::Always, 0.1),
            (70, true, SparseInput::Always, 0.1),
            (70, true, SparseInput::Auto, 0.05),
            (70, true, SparseInput::Auto, 0.5),
            (70, false, SparseInput::Always, 0.1),
            (70, true, SparseInput::Never, 0.1),
        ] {
            let context =
                format!("{name} {outputs} outputs binary={binary} {sparse:?} density {density}");
            device.seed(13);
            let linear = LinearConfig::new(INPUTS, outputs).init(&device);
            let spikes = Tensor::<3>::random(
                [TIME, BATCH, INPUTS],
                Distribution::Bernoulli(density),
                &device,
            );
            let input = if binary {
                spikes
            } else {
                spikes
                    * Tensor::random(
                        [TIME, BATCH, INPUTS],
                        Distribution::Uniform(-2.0, 2.0),
                        &device,
                    )
            };
            let input = input.require_grad();
            let weights = Tensor::<3>::random(
                [TIME, BATCH, outputs],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let run = |fused: bool| {
                let output = if fused {
                    project(&linear, input.clone(), sparse)
                } else {
                    linear.forward(input.clone())
                };
                let grads = (output.clone() * weights.clone()).sum().backward();
                vec![
                    ("output", values(output)),
                    ("d input", gradient(&input, &grads)),
                    (
                        "d weight",
                        values(linear.weight.val().grad(&grads).unwrap()),
                    ),
                    (
                        "d bias",
                        values(linear.bias.as_ref().unwrap().val().grad(&grads).unwrap()),
                    ),
                ]
            };
            let (fused, reference) = (run(true), run(false));
            for ((what, got), (_, want)) in fused.iter().zip(&reference) {
                assert_close(got, want, &format!("{context}: {what}"));
            }
        }
    }
}

#[cfg(feature = "ndarray")]
#[test]
fn a_unique_ndarray_tensor_gives_up_its_buffer_and_a_shared_one_is_copied() {
    use super::HostTensor;
    use burn_ndarray::NdArrayTensor;

    let values: Vec<f32> = (0..24).map(|k| k as f32 * 0.5).collect();
    let tensor = NdArrayTensor::from_values(values.clone(), [2, 3, 4].into());
    let address = tensor.values().as_ptr();
    let kept = tensor.clone();
    let copied = tensor.into_values();
    assert_eq!(copied, values);
    assert_ne!(
        copied.as_ptr(),
        address,
        "a buffer still held elsewhere was handed out"
    );
    assert_eq!(kept.values(), &values[..], "the holder's values changed");

    let reused = kept.into_values();
    assert_eq!(reused, values);
    assert_eq!(reused.as_ptr(), address, "a unique buffer was copied");
}
