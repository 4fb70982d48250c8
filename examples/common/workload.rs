//! The speed benchmark's workloads, shared by `examples/bench` and `benches/layers.rs`: the
//! networks of the PyTorch reference in `../shared/bench/reference.py`.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use spikeburn::nn::fused::{SparseInput, project};
use spikeburn::nn::loss::max_over_time;
use spikeburn::nn::neuron::{
    LeakyReadout, LeakyReadoutConfig, Lif, LifConfig, RecurrentLif, RecurrentLifConfig,
};
use spikeburn::{Firing, Noise, SpikeMode, SurrogateScale};

/// One workload of the reference.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub name: &'static str,
    pub inputs: usize,
    pub hidden: &'static [usize],
    pub recurrent: bool,
    /// `None`: no readout, the loss reads the last hidden layer's membrane-free spike counts.
    pub outputs: Option<usize>,
    pub steps: usize,
    pub batch: usize,
    pub train: bool,
    /// An iteration takes seconds: the benchmark times a fifth as many of them.
    pub large: bool,
}

pub const WORKLOADS: [Workload; 6] = [
    Workload {
        name: "W1",
        inputs: 700,
        hidden: &[256],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 64,
        train: true,
        large: false,
    },
    Workload {
        name: "W2",
        inputs: 700,
        hidden: &[256],
        recurrent: true,
        outputs: Some(20),
        steps: 100,
        batch: 64,
        train: true,
        large: false,
    },
    Workload {
        name: "W3",
        inputs: 700,
        hidden: &[1024, 1024],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 32,
        train: true,
        large: false,
    },
    Workload {
        name: "W1inf",
        inputs: 700,
        hidden: &[256],
        recurrent: false,
        outputs: Some(20),
        steps: 100,
        batch: 256,
        train: false,
        large: false,
    },
    Workload {
        name: "ON1024",
        inputs: 1024,
        hidden: &[1024],
        recurrent: false,
        outputs: None,
        steps: 500,
        batch: 16,
        train: true,
        large: false,
    },
    Workload {
        name: "ON4096",
        inputs: 4096,
        hidden: &[4096],
        recurrent: false,
        outputs: None,
        steps: 500,
        batch: 16,
        train: true,
        large: true,
    },
];

/// The benchmark network: `Linear` into LIF (or recurrent LIF) layers, then a readout.
#[derive(Module, Debug)]
pub struct Net {
    pub linears: Vec<Linear>,
    pub lifs: Vec<Lif>,
    pub recurrent: Vec<RecurrentLif>,
    pub readout: Option<LeakyReadout>,
    /// When the projections compute from the active inputs only.
    #[module(skip)]
    pub sparse: SparseInput,
}

impl Net {
    pub fn new(workload: &Workload, device: &Device) -> Self {
        let noise = Noise::snntorch_fast_sigmoid(25.0).expect("a valid slope");
        let firing =
            Firing::new(noise, SpikeMode::Deterministic).with_scale(SurrogateScale::UnitPeak);
        let decay = (-1.0_f64 / 20.0).exp();
        let mut widths = vec![workload.inputs];
        widths.extend(workload.hidden);
        widths.extend(workload.outputs);
        let linears = widths
            .windows(2)
            .map(|pair| {
                LinearConfig::new(pair[0], pair[1])
                    .with_bias(false)
                    .init(device)
            })
            .collect();
        let (mut lifs, mut recurrent) = (Vec::new(), Vec::new());
        for &width in workload.hidden {
            if workload.recurrent {
                let config = RecurrentLifConfig::new(width)
                    .with_decay(decay)
                    .with_reset_gradient(true)
                    .with_firing(firing);
                recurrent.push(config.init(device));
            } else {
                let config = LifConfig::new(width)
                    .with_decay(decay)
                    .with_reset_gradient(true)
                    .with_firing(firing);
                lifs.push(config.init(device));
            }
        }
        let readout = workload.outputs.map(|outputs| {
            LeakyReadoutConfig::new(outputs)
                .with_decay(decay)
                .init(device)
        });
        Net {
            linears,
            lifs,
            recurrent,
            readout,
            sparse: SparseInput::Auto,
        }
    }

    /// The logits `[batch, classes]` (or the last layer's spike counts without a readout).
    pub fn forward(&self, input: Tensor<3>) -> Tensor<2> {
        let mut activity = input;
        for (layer, linear) in self.linears.iter().enumerate() {
            let current = project(linear, activity, self.sparse);
            activity = if let Some(lif) = self.lifs.get(layer) {
                lif.forward(current, None, false).spikes
            } else if let Some(lif) = self.recurrent.get(layer) {
                lif.forward(current, None, false).spikes
            } else {
                let readout = self
                    .readout
                    .as_ref()
                    .expect("the last Linear feeds the readout");
                return max_over_time(readout.forward(current, None).0);
            };
        }
        activity.sum_dim(0).squeeze_dim(0)
    }
}

impl Workload {
    /// The workload's seeded input spikes `[steps, batch, inputs]` and labels `[batch]`.
    pub fn data(&self, device: &Device) -> (Tensor<3>, Tensor<1, Int>) {
        device.seed(0);
        let shape = [self.steps, self.batch, self.inputs];
        let input = Tensor::<3>::random(shape, Distribution::Bernoulli(0.05), device);
        let classes = self.outputs.unwrap_or(self.hidden[self.hidden.len() - 1]);
        let labels: Vec<i64> = (0..self.batch).map(|b| (b * 7 % classes) as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [self.batch]), device);
        (input, labels)
    }

    /// The workload named `name` (any case).
    pub fn named(name: &str) -> Option<Workload> {
        WORKLOADS
            .iter()
            .find(|w| w.name.eq_ignore_ascii_case(name))
            .copied()
    }
}
