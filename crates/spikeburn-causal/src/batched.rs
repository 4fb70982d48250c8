//! Simulation batched over noise samples with Burn tensors, on any device and without
//! autodiff: the same network, node order and spike rule as [`Network::simulate`], for many
//! samples at once.
//!
//! Noise is drawn on the host in the network's flat node order ([`BatchedNetwork::noise`]), so a
//! batch replays exactly the streams the `f64` path would use; the tensors are `f32`, so a
//! spike whose drive and noise sum to within rounding of zero may come out differently.

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use crate::CausalError;
use crate::estimators::{GradientEstimate, SpikeIntervention};
use crate::network::{Loss, Network};
use crate::simulate::NoiseStreams;
use crate::stats::Moments;

/// A [`Network`] with its weights on a Burn device.
#[derive(Debug, Clone)]
pub struct BatchedNetwork {
    network: Network,
    layers: Vec<TensorLayer>,
    /// `[steps, channels]`.
    input: Tensor<2>,
    device: Device,
}

#[derive(Debug, Clone)]
struct TensorLayer {
    /// `[fan_in, units]`, so that `in @ weights` is the layer's input current.
    weights: Tensor<2>,
    /// `[units, units]`, transposed like `weights`.
    recurrent: Option<Tensor<2>>,
    /// `[1, units]`.
    threshold: Tensor<2>,
    /// `[1, units]`.
    decay: Tensor<2>,
    /// `[1, units]`.
    bias: Tensor<2>,
}

/// A batch of simulations: one row per noise sample.
#[derive(Debug, Clone)]
pub struct BatchedTrajectory {
    /// Spikes, 0 or 1, `[samples, nodes]` in the network's flat node order.
    pub spikes: Tensor<2>,
    /// Noise-free drives `x = v - threshold`, `[samples, nodes]`.
    pub drives: Tensor<2>,
    /// The loss of each sample, `[samples]`.
    pub losses: Tensor<1>,
}

/// A `do(s_node = value)` intervention with one value per sample.
#[derive(Debug, Clone)]
pub struct BatchedIntervention {
    /// The node's flat index.
    pub node: usize,
    /// The spike it is set to in each sample, 0 or 1, `[samples]`.
    pub spikes: Tensor<1>,
}

fn matrix(rows: &[Vec<f64>], device: &Device) -> Tensor<2> {
    let (height, width) = (rows.len(), rows.first().map_or(0, Vec::len));
    let values: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, [height, width]), device)
}

fn row(values: &[f64], device: &Device) -> Tensor<2> {
    let width = values.len();
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, [1, width]), device)
}

impl BatchedNetwork {
    /// Copies `network`'s weights, thresholds, decays and input to `device`.
    pub fn new(network: &Network, device: &Device) -> Self {
        let layers = network
            .layers()
            .iter()
            .map(|layer| TensorLayer {
                weights: matrix(layer.weights(), device).transpose(),
                recurrent: layer.recurrent().map(|r| matrix(r, device).transpose()),
                threshold: row(layer.threshold(), device),
                decay: row(layer.decay(), device),
                bias: row(layer.bias(), device),
            })
            .collect();

        BatchedNetwork {
            network: network.clone(),
            layers,
            input: matrix(network.input(), device),
            device: device.clone(),
        }
    }

    /// The network description.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Draws `samples` noise streams on the host, in the order the `f64` path draws them.
    pub fn sample_noise<R: Rng + ?Sized>(&self, samples: usize, rng: &mut R) -> Vec<NoiseStreams> {
        (0..samples)
            .map(|_| self.network.sample_noise(rng))
            .collect()
    }

    /// The noise streams as a `[samples, nodes]` tensor on the device.
    pub fn noise(&self, streams: &[NoiseStreams]) -> Tensor<2> {
        let nodes = self.network.nodes();
        let values: Vec<f32> = streams
            .iter()
            .flat_map(|stream| stream.values().iter().map(|&v| v as f32))
            .collect();
        Tensor::from_data(
            TensorData::new(values, [streams.len(), nodes]),
            &self.device,
        )
    }

    /// Simulates every sample of `noise` (`[samples, nodes]`), with an optional intervention.
    ///
    /// # Shapes
    /// - `noise`: `[samples, nodes]`
    /// - returns: spikes and drives `[samples, nodes]`, losses `[samples]`
    ///
    /// # Panics
    /// If `noise` does not have one column per node, or the intervention's node is out of range
    /// or its spikes not one per sample.
    pub fn simulate(
        &self,
        noise: &Tensor<2>,
        intervention: Option<&BatchedIntervention>,
    ) -> BatchedTrajectory {
        let network = &self.network;
        let [samples, nodes] = noise.dims();
        assert_eq!(nodes, network.nodes(), "noise needs one column per node");
        if let Some(intervention) = intervention {
            assert!(intervention.node < nodes, "intervention node out of range");
            assert_eq!(
                intervention.spikes.dims(),
                [samples],
                "one forced spike per sample"
            );
        }

        let mut membranes: Vec<Tensor<2>> = self
            .layers
            .iter()
            .zip(network.layers())
            .map(|(_, layer)| Tensor::zeros([samples, layer.units()], &self.device))
            .collect();
        let mut previous_spikes: Vec<Option<Tensor<2>>> = vec![None; self.layers.len()];
        let (mut spike_columns, mut drive_columns) = (Vec::new(), Vec::new());
        let mut outputs = Tensor::<2>::zeros([samples, network.outputs()], &self.device);
        let mut readout = Reader::new(network.loss(), samples, &self.device);

        for step in 0..network.steps() {
            let base = step * network.neurons();
            let mut below: Tensor<2> = self.input.clone().narrow(0, step, 1); // [1, channels]
            for (index, layer) in self.layers.iter().enumerate() {
                let units = network.layers()[index].units();
                let offset = base + network.layer_offset(index);

                // v = decay (v - threshold s)(t-1) + W in(t) + R s(t-1)
                let mut v = membranes[index].clone() * layer.decay.clone()
                    + below.matmul(layer.weights.clone())
                    + layer.bias.clone();
                if let (Some(recurrent), Some(spikes)) = (&layer.recurrent, &previous_spikes[index])
                {
                    v = v + spikes.clone().matmul(recurrent.clone());
                }
                let drive = v.clone() - layer.threshold.clone(); // [samples, units]
                let perturbed = drive.clone() + noise.clone().narrow(1, offset, units);
                let mut spikes = perturbed.greater_elem(0.0).float();
                if let Some(forced) = intervention
                    && (offset..offset + units).contains(&forced.node)
                {
                    spikes = force(spikes, forced.node - offset, &forced.spikes);
                }

                membranes[index] = v - spikes.clone() * layer.threshold.clone();
                spike_columns.push(spikes.clone());
                drive_columns.push(drive);
                previous_spikes[index] = Some(spikes.clone());
                below = spikes;
            }
            readout.step(&below);
            outputs = outputs + below;
        }

        BatchedTrajectory {
            spikes: Tensor::cat(spike_columns, 1),
            drives: Tensor::cat(drive_columns, 1),
            losses: match readout.logits() {
                Some(logits) => cross_entropy(logits, network.loss()),
                None => loss(network.loss(), outputs, &self.device),
            },
        }
    }
}

/// `spikes` with column `column` replaced by `values`.
fn force(spikes: Tensor<2>, column: usize, values: &Tensor<1>) -> Tensor<2> {
    let [samples, units] = spikes.dims();
    let device = spikes.device();
    let mask: Vec<f32> = (0..units)
        .map(|u| f32::from(u8::from(u == column)))
        .collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [1, units]), &device);
    let values = values.clone().reshape([samples, 1]);

    spikes * (mask.clone().neg() + 1.0) + values * mask
}

/// The running maximum of a [`Loss::MaxReadout`]'s membrane; does nothing for count losses.
struct Reader {
    /// `[outputs, classes]`, `[1, classes]` and the decay.
    readout: Option<(Tensor<2>, Tensor<2>, f64)>,
    /// `[samples, classes]`.
    membrane: Option<Tensor<2>>,
    peak: Option<Tensor<2>>,
}

impl Reader {
    fn new(loss: &Loss, samples: usize, device: &Device) -> Self {
        let readout = match loss {
            Loss::MaxReadout(readout) => Some((
                matrix(readout.weights(), device).transpose(),
                row(readout.bias(), device),
                readout.decay(),
            )),
            _ => None,
        };
        let membrane = readout
            .as_ref()
            .map(|(_, bias, _)| Tensor::zeros([samples, bias.dims()[1]], device));
        Reader {
            readout,
            membrane,
            peak: None,
        }
    }

    /// Integrates one step of output spikes `[samples, outputs]`.
    fn step(&mut self, spikes: &Tensor<2>) {
        let (Some((weights, bias, decay)), Some(membrane)) = (&self.readout, self.membrane.take())
        else {
            return;
        };
        let membrane = membrane * *decay + spikes.clone().matmul(weights.clone()) + bias.clone();
        self.peak = Some(match self.peak.take() {
            Some(peak) => peak.max_pair(membrane.clone()),
            None => membrane.clone(),
        });
        self.membrane = Some(membrane);
    }

    /// The maximum over time, `[samples, classes]`, for a readout loss.
    fn logits(self) -> Option<Tensor<2>> {
        self.peak
    }
}

/// Cross-entropy of each row of logits against the loss's target.
fn cross_entropy(logits: Tensor<2>, loss: &Loss) -> Tensor<1> {
    let [samples, _] = logits.dims();
    let target = match loss {
        Loss::MaxReadout(readout) => readout.target(),
        Loss::CrossEntropy { target } => *target,
        _ => unreachable!("only cross-entropy losses have logits"),
    };
    let largest = logits.clone().max_dim(1); // [samples, 1]
    let normaliser = (logits.clone() - largest.clone()).exp().sum_dim(1).log() + largest;
    (normaliser - logits.narrow(1, target, 1)).reshape([samples])
}

/// The loss of each row of output counts.
///
/// # Shapes
/// - `counts`: `[samples, outputs]`
/// - returns: `[samples]`
fn loss(loss: &Loss, counts: Tensor<2>, device: &Device) -> Tensor<1> {
    let [samples, _] = counts.dims();
    match loss {
        Loss::Output { unit } => counts.narrow(1, *unit, 1).reshape([samples]),
        Loss::Mse { target, readout } => {
            let y = match readout {
                Some(readout) => counts.matmul(matrix(readout, device).transpose()),
                None => counts,
            };
            let residual = y - row(target, device);
            (residual.clone() * residual).sum_dim(1).reshape([samples]) * 0.5
        }
        Loss::CrossEntropy { .. } => cross_entropy(counts, loss),
        Loss::MaxReadout(_) => unreachable!("a readout loss is taken from its running maximum"),
    }
}

fn to_host(tensor: Tensor<2>) -> Vec<f64> {
    let data = tensor.into_data().convert::<f32>();
    let values = data.try_into_vec::<f32>().expect("f32 data");
    values.into_iter().map(f64::from).collect()
}

impl SpikeIntervention {
    /// [`estimate`](SpikeIntervention::estimate) with the simulations batched on the network's
    /// device: one factual batch and, per node, one batch with that node's spike flipped in every
    /// sample. The weighting by `p(x_n)` and `dx_n/dW` is done on the host in `f64`.
    ///
    /// It draws the same noise from `rng` as [`estimate`](SpikeIntervention::estimate), so with
    /// the same seed the two agree up to the `f32` rounding of the batched simulations.
    pub fn estimate_batched<R: Rng + ?Sized>(
        &self,
        network: &BatchedNetwork,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let described = network.network();
        let (samples, nodes) = (self.samples(), described.nodes());
        let streams = network.sample_noise(samples, rng);
        let noise = network.noise(&streams);
        let factual = network.simulate(&noise, None);
        let spikes = to_host(factual.spikes.clone());
        let drives = to_host(factual.drives);
        let losses: Vec<f64> = to_host(factual.losses.reshape([samples, 1]));

        // flipped[n][k]: the loss of sample k with node n's spike flipped.
        let mut flipped = Vec::with_capacity(nodes);
        for node in 0..nodes {
            let spikes = factual.spikes.clone().narrow(1, node, 1).reshape([samples]);
            let intervention = BatchedIntervention {
                node,
                spikes: spikes.neg() + 1.0,
            };
            let run = network.simulate(&noise, Some(&intervention));
            flipped.push(to_host(run.losses.reshape([samples, 1])));
        }

        let mut moments = Moments::new(described.weight_count());
        for sample in 0..samples {
            let row = sample * nodes;
            let spiked: Vec<bool> = spikes[row..row + nodes].iter().map(|&s| s > 0.5).collect();
            let coefficient: Vec<f64> = (0..nodes)
                .map(|node| {
                    let density = described.node_noise(node).pdf(drives[row + node]);
                    let (factual, other) = (losses[sample], flipped[node][sample]);
                    let (high, low) = if spiked[node] {
                        (factual, other)
                    } else {
                        (other, factual)
                    };
                    if density == 0.0 {
                        0.0
                    } else {
                        density * (high - low)
                    }
                })
                .collect();
            moments.push(&described.weight_gradient(&spiked, &coefficient));
        }

        Ok(GradientEstimate::from_moments(
            &moments,
            samples,
            samples * (1 + nodes),
        ))
    }
}
