//! The bridge between the two halves of Spikeburn: a [`SpikingMlp`] trained with Burn, described
//! as the `spikeburn-causal` network that computes the same thing, so that its surrogate gradient
//! can be compared with causal estimates of the true gradient on the same weights.
//!
//! A `SpikingMlp` layer `l` computes, at every step,
//! `v(t) = decay (v(t-1) - threshold s(t-1)) + W in(t) + b` and fires `H(v - threshold + xi)`;
//! its readout integrates the last spikes, `m(t) = decay m(t-1) + U s(t) + c`, and the loss is
//! the cross-entropy of `max_t m(t)`. [`CausalMlp`] holds these numbers in `f64` and builds, for
//! one input sequence and label, a [`Network`] with the hidden layers as stochastic layers and the
//! readout and cross-entropy as its [`Loss::MaxReadout`](crate::causal::Loss::MaxReadout).
//!
//! With the same noise sample on both sides, the estimators' linearised propagation
//! ([`PropagationMode::Linearised`]) equals Burn's autodiff gradient of the model's loss when the
//! layers let the gradient through their reset (`reset_gradient`), because both then differentiate
//! the same computation with the noise density at the noise-free drive (THEORY.md section 2, step
//! 5); `tests/bridge.rs` checks this weight by weight.
//!
//! ```
//! # #[allow(deprecated)] fn main() {
//! use burn::tensor::Device;
//! use spikeburn::bridge::CausalMlp;
//! use spikeburn::nn::SpikingMlpConfig;
//!
//! let model = SpikingMlpConfig::new(vec![2, 4, 3]).init(&Device::ndarray());
//! let view = CausalMlp::new(&model).unwrap();
//! let network = view.network(&[vec![0.5, 1.0], vec![1.0, 0.0]], 2).unwrap();
//! assert_eq!((network.steps(), network.neurons(), network.outputs()), (2, 4, 4));
//! # }
//! ```

use std::num::NonZeroUsize;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn_causal::{
    CausalError, InputSpec, LayerSpec, LossSpec, Network, NetworkSpec, ParameterGradient, PerUnit,
    PropagationMode, propagated_parameters_all,
};
use spikeburn_nn::SpikingMlp;
use spikeburn_nn::neuron::Reset;
use spikeburn_noise::Noise;

/// Why a model has no causal description.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BridgeError {
    /// The estimators model the subtractive reset only.
    #[error("hidden layer {layer} resets by `{reset:?}`; the estimators model `Subtract` only")]
    Reset {
        /// The hidden layer, from 0.
        layer: usize,
        /// Its reset.
        reset: Reset,
    },
    /// The estimators' readout has one decay for all classes.
    #[error("the readout has per-class decays {decays:?}; the estimators need one shared decay")]
    ReadoutDecay {
        /// The decays found.
        decays: Vec<f64>,
    },
    /// A parameter is not a finite number.
    #[error("`{field}` holds {value}, expected finite numbers")]
    NonFinite {
        /// Which parameter.
        field: String,
        /// The value.
        value: f64,
    },
}

/// One hidden layer's numbers in `f64`.
#[derive(Debug, Clone, PartialEq)]
struct Hidden {
    /// `[units][fan_in]`: the `Linear` weight, transposed.
    weights: Vec<Vec<f64>>,
    bias: Option<Vec<f64>>,
    threshold: Vec<f64>,
    decay: Vec<f64>,
    noise: Noise,
}

/// A [`SpikingMlp`]'s parameters in `f64`, ready to describe one input as a causal [`Network`].
///
/// Learned decays and thresholds are read at their current values; the gradient estimates cover
/// the `Linear` weights and biases only.
#[derive(Debug, Clone, PartialEq)]
pub struct CausalMlp {
    hidden: Vec<Hidden>,
    /// `[classes][last hidden]`.
    readout: Vec<Vec<f64>>,
    readout_bias: Option<Vec<f64>>,
    readout_decay: f64,
}

/// The gradient of one `Linear` layer in Burn's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGradient {
    /// `[inputs, outputs]` row-major, like `Linear::weight`.
    pub weight: Vec<f64>,
    /// `[outputs]`, when the layer has a bias.
    pub bias: Option<Vec<f64>>,
}

impl LinearGradient {
    /// The weight then the bias, as one vector.
    pub fn flat(&self) -> Vec<f64> {
        let mut flat = self.weight.clone();
        flat.extend(self.bias.iter().flatten());
        flat
    }

    fn zeros_like(&self) -> Self {
        LinearGradient {
            weight: vec![0.0; self.weight.len()],
            bias: self.bias.as_ref().map(|b| vec![0.0; b.len()]),
        }
    }

    fn add_scaled(&mut self, other: &LinearGradient, factor: f64) {
        for (a, b) in self.weight.iter_mut().zip(&other.weight) {
            *a += factor * b;
        }
        if let (Some(a), Some(b)) = (&mut self.bias, &other.bias) {
            for (a, b) in a.iter_mut().zip(b) {
                *a += factor * b;
            }
        }
    }
}

fn to_host<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    let data = tensor.into_data().convert::<f32>();
    let values = data.try_into_vec::<f32>().expect("f32 data");
    values.into_iter().map(f64::from).collect()
}

/// `[rows * columns]` row-major to its transpose as rows, `[columns][rows]`.
fn transposed(values: &[f64], rows: usize, columns: usize) -> Vec<Vec<f64>> {
    (0..columns)
        .map(|c| (0..rows).map(|r| values[r * columns + c]).collect())
        .collect()
}

fn finite(field: impl Fn() -> String, values: &[f64]) -> Result<(), BridgeError> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(&value) => Err(BridgeError::NonFinite {
            field: field(),
            value,
        }),
        None => Ok(()),
    }
}

impl CausalMlp {
    /// Reads `model`'s weights, biases, thresholds, decays and noise.
    ///
    /// Each layer's noise is the noise its forward fires under ([`Firing::forward_noise`]).
    ///
    /// [`Firing::forward_noise`]: spikeburn_nn::Firing::forward_noise
    pub fn new(model: &SpikingMlp) -> Result<Self, BridgeError> {
        let mut hidden = Vec::with_capacity(model.lifs.len());
        for (layer, (linear, lif)) in model.linears.iter().zip(&model.lifs).enumerate() {
            if lif.reset != Reset::Subtract {
                let reset = lif.reset;
                return Err(BridgeError::Reset { layer, reset });
            }
            let device = linear.weight.val().device();
            let [fan_in, units] = linear.weight.val().dims();
            let weights = to_host(linear.weight.val());
            finite(|| format!("linears[{layer}].weight"), &weights)?;
            let bias = linear.bias.as_ref().map(|b| to_host(b.val()));
            finite(
                || format!("linears[{layer}].bias"),
                bias.as_deref().unwrap_or(&[]),
            )?;
            hidden.push(Hidden {
                weights: transposed(&weights, fan_in, units),
                bias,
                threshold: to_host(lif.threshold.values(units, &device)),
                decay: to_host(lif.decay.values(units, &device)),
                noise: lif.firing.forward_noise(),
            });
        }

        let linear = model
            .linears
            .last()
            .expect("a SpikingMlp has a readout Linear");
        let [fan_in, classes] = linear.weight.val().dims();
        let weights = to_host(linear.weight.val());
        let layer = model.linears.len() - 1;
        finite(|| format!("linears[{layer}].weight"), &weights)?;
        let readout_bias = linear.bias.as_ref().map(|b| to_host(b.val()));
        finite(
            || format!("linears[{layer}].bias"),
            readout_bias.as_deref().unwrap_or(&[]),
        )?;
        let decays = to_host(
            model
                .readout
                .decay
                .values(classes, &linear.weight.val().device()),
        );
        if decays.iter().any(|&d| d != decays[0]) {
            return Err(BridgeError::ReadoutDecay { decays });
        }

        Ok(CausalMlp {
            hidden,
            readout: transposed(&weights, fan_in, classes),
            readout_bias,
            readout_decay: decays[0],
        })
    }

    /// The same model with every hidden layer firing under `noise`, e.g. to ask what the true
    /// gradient would be if a deterministic network had that noise.
    pub fn with_noise(mut self, noise: Noise) -> Self {
        for layer in &mut self.hidden {
            layer.noise = noise;
        }
        self
    }

    /// The number of `Linear` layers (hidden layers and the readout).
    pub fn linears(&self) -> usize {
        self.hidden.len() + 1
    }

    /// The description of the model on one input sequence `[steps][inputs]` with label `target`.
    pub fn spec(&self, input: &[Vec<f64>], target: usize) -> NetworkSpec {
        let layers = self
            .hidden
            .iter()
            .map(|layer| LayerSpec {
                weights: layer.weights.clone(),
                recurrent: None,
                threshold: PerUnit::Each(layer.threshold.clone()),
                decay: Some(PerUnit::Each(layer.decay.clone())),
                bias: layer.bias.clone().map(PerUnit::Each),
                noise: Some(layer.noise),
            })
            .collect();
        NetworkSpec {
            input: InputSpec::Sequence(input.to_vec()),
            layers,
            loss: LossSpec::MaxReadout {
                weights: self.readout.clone(),
                bias: self.readout_bias.clone(),
                decay: self.readout_decay,
                target,
            },
        }
    }

    /// The checked network of one input sequence `[steps][inputs]` with label `target`.
    pub fn network(&self, input: &[Vec<f64>], target: usize) -> Result<Network, CausalError> {
        self.spec(input, target).check(None)
    }

    /// A network's [`ParameterGradient`] as one [`LinearGradient`] per `Linear` layer, in Burn's
    /// layout.
    pub fn linear_gradients(&self, gradient: &ParameterGradient) -> Vec<LinearGradient> {
        let mut layers = Vec::with_capacity(self.linears());
        let mut start = 0;
        for (index, layer) in self.hidden.iter().enumerate() {
            let (units, fan_in) = (layer.weights.len(), layer.weights[0].len());
            let rows = &gradient.weights[start..start + units * fan_in];
            start += units * fan_in;
            layers.push(LinearGradient {
                weight: transposed(rows, units, fan_in).concat(),
                bias: layer.bias.as_ref().map(|_| gradient.biases[index].clone()),
            });
        }
        let (classes, fan_in) = (self.readout.len(), self.readout[0].len());
        let (weights, bias) = gradient.loss.split_at(classes * fan_in);
        layers.push(LinearGradient {
            weight: transposed(weights, classes, fan_in).concat(),
            bias: self.readout_bias.as_ref().map(|_| bias.to_vec()),
        });
        layers
    }

    /// The mean over a minibatch of per-trajectory gradient estimates, each the propagation of
    /// one noise sample in `mode`, with `replicas` independent samples per input: an estimate of
    /// the gradient of the batch's mean expected loss (exact differences) or of the expected
    /// surrogate gradient (linearised).
    ///
    /// Runs the inputs on all cores; the result depends on `seed` only.
    ///
    /// # Arguments
    /// - `inputs`: one sequence `[steps][inputs]` per sample, with its `targets`.
    pub fn estimate(
        &self,
        inputs: &[Vec<Vec<f64>>],
        targets: &[usize],
        replicas: usize,
        mode: PropagationMode,
        seed: u64,
    ) -> Result<Vec<LinearGradient>, CausalError> {
        assert_eq!(inputs.len(), targets.len(), "one target per input");
        let samples = inputs.len() * replicas;
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let chunk = inputs.len().div_ceil(threads).max(1);
        let weight = 1.0 / samples.max(1) as f64;

        let partials = std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .chunks(chunk)
                .zip(targets.chunks(chunk))
                .enumerate()
                .map(|(part, (inputs, targets))| {
                    scope.spawn(move || {
                        let mut sum: Option<Vec<LinearGradient>> = None;
                        for (offset, (input, &target)) in inputs.iter().zip(targets).enumerate() {
                            let index = (part * chunk + offset) as u64;
                            let mut rng = StdRng::seed_from_u64(sample_seed(seed, index));
                            let network = self.network(input, target)?;
                            let trajectories: Vec<_> = (0..replicas)
                                .map(|_| network.simulate(&network.sample_noise(&mut rng)))
                                .collect();
                            for gradient in propagated_parameters_all(&network, &trajectories, mode)
                            {
                                let layers = self.linear_gradients(&gradient);
                                let sum = sum.get_or_insert_with(|| {
                                    layers.iter().map(LinearGradient::zeros_like).collect()
                                });
                                for (total, layer) in sum.iter_mut().zip(&layers) {
                                    total.add_scaled(layer, weight);
                                }
                            }
                        }
                        Ok::<_, CausalError>(sum)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("an estimation thread panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;

        let mut total: Option<Vec<LinearGradient>> = None;
        for partial in partials.into_iter().flatten() {
            match &mut total {
                None => total = Some(partial),
                Some(total) => {
                    for (a, b) in total.iter_mut().zip(&partial) {
                        a.add_scaled(b, 1.0);
                    }
                }
            }
        }
        Ok(total.unwrap_or_default())
    }
}

/// A seed per sample, spread so that neighbouring samples get unrelated streams.
fn sample_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The autodiff gradient of every `Linear` layer of `model`, in the order of
/// [`CausalMlp::linear_gradients`]; a parameter without a gradient gives zeros.
pub fn autodiff_gradients(model: &SpikingMlp, gradients: &Gradients) -> Vec<LinearGradient> {
    model
        .linears
        .iter()
        .map(|linear| {
            let weight = match linear.weight.grad(gradients) {
                Some(grad) => to_host(grad),
                None => vec![0.0; linear.weight.val().dims().iter().product()],
            };
            let bias = linear.bias.as_ref().map(|bias| match bias.grad(gradients) {
                Some(grad) => to_host(grad),
                None => vec![0.0; bias.val().dims()[0]],
            });
            LinearGradient { weight, bias }
        })
        .collect()
}

/// Gradients for an optimiser step from one [`LinearGradient`] per `Linear` layer of `model`;
/// the model's other parameters (learned decays, thresholds) get none and are left unchanged.
///
/// `device` is the model's (autodiff) device.
pub fn gradients_params(
    model: &SpikingMlp,
    layers: &[LinearGradient],
    device: &Device,
) -> GradientsParams {
    assert_eq!(layers.len(), model.linears.len(), "one gradient per Linear");
    let plain = device.clone().inner();
    let mut params = GradientsParams::new();
    for (linear, layer) in model.linears.iter().zip(layers) {
        let dims = linear.weight.val().dims();
        let values: Vec<f32> = layer.weight.iter().map(|&v| v as f32).collect();
        let weight = Tensor::<2>::from_data(TensorData::new(values, dims), &plain);
        params.register(linear.weight.id, weight);
        if let (Some(bias), Some(values)) = (&linear.bias, &layer.bias) {
            let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            let len = values.len();
            params.register(
                bias.id,
                Tensor::<1>::from_data(TensorData::new(values, [len]), &plain),
            );
        }
    }
    params
}

/// A batch `[time, batch, features]` as one sequence `[time][features]` per sample.
pub fn sequences(input: Tensor<3>) -> Vec<Vec<Vec<f64>>> {
    let [time, batch, features] = input.dims();
    let values = to_host(input);
    (0..batch)
        .map(|b| {
            (0..time)
                .map(|t| {
                    let start = (t * batch + b) * features;
                    values[start..start + features].to_vec()
                })
                .collect()
        })
        .collect()
}

/// The labels of a batch as class indices.
pub fn labels(labels: Tensor<1, Int>) -> Vec<usize> {
    let data = labels.into_data().convert::<i64>();
    let values = data.try_into_vec::<i64>().expect("i64 labels");
    values
        .into_iter()
        .map(|label| usize::try_from(label).expect("labels are class indices"))
        .collect()
}
