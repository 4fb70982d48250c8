//! A feed-forward spiking network: `Linear` + [`Lif`] layers and a [`LeakyReadout`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::fused::{SparseInput, project};
use crate::neuron::{LeakyReadout, LeakyReadoutConfig, Lif, LifConfig, Reset, check_sequence};
use crate::{Firing, NnError};

/// Configuration of a [`SpikingMlp`]: `sizes = [inputs, hidden.., outputs]`, every hidden layer a
/// `Linear` into LIF neurons, the last `Linear` into a leaky readout.
///
/// ```
/// # #[allow(deprecated)] fn main() {
/// use burn::tensor::{Device, Distribution, Tensor};
/// use spikeburn_nn::SpikingMlpConfig;
///
/// let device = Device::ndarray();
/// let model = SpikingMlpConfig::new(vec![700, 256, 20]).init(&device);
/// let input = Tensor::<3>::random([100, 8, 700], Distribution::Bernoulli(0.05), &device);
/// let output = model.forward(input);
/// assert_eq!(output.membrane.dims(), [100, 8, 20]);
/// assert_eq!(output.hidden_spikes[0].dims(), [100, 8, 256]);
/// # }
/// ```
#[derive(Config, Debug)]
pub struct SpikingMlpConfig {
    /// Layer widths from the inputs to the outputs; at least two.
    pub sizes: Vec<usize>,
    /// Membrane decay of the hidden LIF neurons. Default 0.95.
    #[config(default = 0.95)]
    pub decay: f64,
    /// Threshold of the hidden LIF neurons. Default 1.
    #[config(default = 1.0)]
    pub threshold: f64,
    /// Reset of the hidden LIF neurons. Default: subtract.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Learn a decay per hidden neuron. Default false.
    #[config(default = false)]
    pub learn_decay: bool,
    /// Learn a threshold per hidden neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the hidden neurons' reset ([`LifConfig::reset_gradient`]).
    /// Default false.
    #[config(default = false)]
    pub reset_gradient: bool,
    /// How the hidden neurons fire. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
    /// Membrane decay of the readout. Default 0.95.
    #[config(default = 0.95)]
    pub readout_decay: f64,
    /// Whether the `Linear` layers have a bias. Default true.
    #[config(default = true)]
    pub bias: bool,
}

impl SpikingMlpConfig {
    /// The config of hidden layer `index` (0-based).
    pub fn hidden_layer(&self, index: usize) -> LifConfig {
        LifConfig::new(self.sizes[index + 1])
            .with_decay(self.decay)
            .with_threshold(self.threshold)
            .with_reset(self.reset)
            .with_learn_decay(self.learn_decay)
            .with_learn_threshold(self.learn_threshold)
            .with_reset_gradient(self.reset_gradient)
            .with_firing(self.firing)
    }

    /// The config of the readout.
    pub fn readout(&self) -> LeakyReadoutConfig {
        let outputs = *self.sizes.last().unwrap_or(&0);
        LeakyReadoutConfig::new(outputs).with_decay(self.readout_decay)
    }

    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(NnError::InvalidConfig {
                layer: "SpikingMlp",
                field: "sizes",
                value: format!("{:?}", self.sizes),
                expected: "at least two positive widths, [inputs, hidden.., outputs]",
            });
        }
        for index in 0..self.sizes.len() - 2 {
            self.hidden_layer(index).validate()?;
        }
        self.readout().validate()
    }

    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](SpikingMlpConfig::validate)).
    pub fn init(&self, device: &Device) -> SpikingMlp {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let linears = self
            .sizes
            .windows(2)
            .map(|pair| {
                LinearConfig::new(pair[0], pair[1])
                    .with_bias(self.bias)
                    .init(device)
            })
            .collect();
        let lifs = (0..self.sizes.len() - 2)
            .map(|index| self.hidden_layer(index).init(device))
            .collect();

        SpikingMlp {
            linears,
            lifs,
            readout: self.readout().init(device),
            inputs: self.sizes[0],
            sparse_input: SparseInput::Auto,
        }
    }
}

/// A feed-forward spiking network. Built by [`SpikingMlpConfig::init`].
#[derive(Module, Debug)]
pub struct SpikingMlp {
    /// The weights into each hidden layer and, last, into the readout.
    pub linears: Vec<Linear>,
    /// The hidden LIF layers.
    pub lifs: Vec<Lif>,
    /// The leaky readout.
    pub readout: LeakyReadout,
    /// Number of inputs per step.
    pub inputs: usize,
    /// When the `Linear` layers compute from the nonzero inputs only (see
    /// [`project`](crate::fused::project)). [`SparseInput::Auto`] after `init`: by the density
    /// measured on each call. Not saved with the weights.
    #[module(skip)]
    pub sparse_input: SparseInput,
}

/// What a [`SpikingMlp`] computes for a sequence.
#[derive(Debug, Clone)]
pub struct SpikingMlpOutput {
    /// The readout membrane, `[time, batch, outputs]`.
    pub membrane: Tensor<3>,
    /// The spikes of each hidden layer, `[time, batch, hidden]`.
    pub hidden_spikes: Vec<Tensor<3>>,
}

impl SpikingMlp {
    /// The network over a whole input sequence, from rest.
    ///
    /// Each `Linear` runs once over all steps, from the active inputs when they are sparse
    /// spikes ([`project`](crate::fused::project)); each layer's sequence then goes through its
    /// own fused `forward`.
    ///
    /// # Shapes
    /// - `input`: `[time, batch, inputs]`, typically spikes
    /// - returns: the readout membrane `[time, batch, outputs]` and the hidden spikes
    ///
    /// # Panics
    /// If the last axis of `input` is not `inputs`.
    pub fn forward(&self, input: Tensor<3>) -> SpikingMlpOutput {
        self.run(input, |lif, current, _| {
            lif.forward(current, None, false).spikes
        })
    }

    /// [`forward`](SpikingMlp::forward) with a given escape-noise sample for every hidden layer
    /// (see [`Lif::forward_with_noise`]), whatever the layers' firing mode.
    ///
    /// # Shapes
    /// - `input`: `[time, batch, inputs]`
    /// - `noise[l]`: `[time, batch, hidden_l]`, one per hidden layer
    /// - returns: as [`forward`](SpikingMlp::forward)
    ///
    /// # Panics
    /// If `noise` does not hold one tensor of the right shape per hidden layer.
    pub fn forward_with_noise(&self, input: Tensor<3>, noise: Vec<Tensor<3>>) -> SpikingMlpOutput {
        assert_eq!(
            noise.len(),
            self.lifs.len(),
            "SpikingMlp: one noise tensor per hidden layer"
        );
        self.run(input, |lif, current, layer| {
            let noise = noise[layer].clone();
            lif.forward_with_noise(current, noise, None, false).spikes
        })
    }

    /// The network with `fire(lif, current, layer)` turning each hidden layer's input current
    /// into its spikes.
    fn run(
        &self,
        input: Tensor<3>,
        mut fire: impl FnMut(&Lif, Tensor<3>, usize) -> Tensor<3>,
    ) -> SpikingMlpOutput {
        check_sequence("SpikingMlp", &input, self.inputs);

        let mut hidden_spikes = Vec::with_capacity(self.lifs.len());
        let mut activity = input;
        for (layer, (linear, lif)) in self.linears.iter().zip(&self.lifs).enumerate() {
            let current = project(linear, activity, self.sparse_input); // [time, batch, hidden]
            activity = fire(lif, current, layer);
            hidden_spikes.push(activity.clone());
        }
        let last = self.linears.last().expect("at least one Linear");
        let readout = project(last, activity, self.sparse_input);
        let (membrane, _) = self.readout.forward(readout, None);

        SpikingMlpOutput {
            membrane,
            hidden_spikes,
        }
    }
}
