//! Current-based synaptic LIF neurons: the input charges a synaptic current that decays too.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::params::DecayFactor;
use super::{
    Decay, Reset, SpikeTrain, Threshold, check_neurons, check_sequence, check_step, fire_and_reset,
    scan, step_of, valid,
};
use crate::fused::{LifScan, leaky_sequence, lif_sequence};
use crate::noise::sample_noise;
use crate::{Firing, NnError, SpikeMode};

/// Configuration of a [`Synaptic`] layer: `i <- synapse_decay * i + input`,
/// `v <- decay * v + i`, spike `H(v - threshold)`, then reset.
#[derive(Config, Debug)]
pub struct SynapticConfig {
    /// Number of neurons.
    pub neurons: usize,
    /// Synaptic current decay per step, in `(0, 1]` (`(0, 1)` when learned). Default 0.9.
    #[config(default = 0.9)]
    pub synapse_decay: f64,
    /// Membrane decay per step, in `(0, 1]` (`(0, 1)` when learned). Default 0.95.
    #[config(default = 0.95)]
    pub decay: f64,
    /// Firing threshold, positive. Default 1.
    #[config(default = 1.0)]
    pub threshold: f64,
    /// What a spike does to the membrane. Default: subtract the threshold.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Learn both decays per neuron. Default false.
    #[config(default = false)]
    pub learn_decay: bool,
    /// Learn one threshold per neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the reset. Default false, as for [`LifConfig`](crate::neuron::LifConfig).
    #[config(default = false)]
    pub reset_gradient: bool,
    /// Escape noise, forward mode and surrogate scale. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
}

impl SynapticConfig {
    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("Synaptic", self.neurons)?;
        Decay::check(
            "Synaptic",
            "synapse_decay",
            self.synapse_decay,
            self.learn_decay,
        )?;
        Decay::check("Synaptic", "decay", self.decay, self.learn_decay)?;
        Threshold::check("Synaptic", self.threshold)
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](SynapticConfig::validate)).
    pub fn init(&self, device: &Device) -> Synaptic {
        valid(self.validate());
        let neurons = self.neurons;
        Synaptic {
            synapse_decay: Decay::new(self.synapse_decay, self.learn_decay, neurons, device),
            decay: Decay::new(self.decay, self.learn_decay, neurons, device),
            threshold: Threshold::new(self.threshold, self.learn_threshold, neurons, device),
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            firing: self.firing,
            neurons,
        }
    }
}

/// A layer of current-based synaptic LIF neurons. Built by [`SynapticConfig::init`].
#[derive(Module, Debug)]
pub struct Synaptic {
    /// The synaptic current decay.
    pub synapse_decay: Decay,
    /// The membrane decay.
    pub decay: Decay,
    /// The firing threshold.
    pub threshold: Threshold,
    /// The reset after a spike.
    #[module(skip)]
    pub reset: Reset,
    /// Whether the gradient flows through the reset.
    pub reset_gradient: bool,
    /// How the neurons fire.
    #[module(skip)]
    pub firing: Firing,
    /// Number of neurons.
    pub neurons: usize,
}

/// The state of a [`Synaptic`] layer between steps.
#[derive(Debug, Clone)]
pub struct SynapticState {
    /// The synaptic current, `[batch, neurons]`.
    pub current: Tensor<2>,
    /// The membrane potential after the last reset, `[batch, neurons]`.
    pub membrane: Tensor<2>,
}

impl SynapticState {
    /// The resting state: no current, every membrane at 0.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        SynapticState {
            current: Tensor::zeros([batch, neurons], device),
            membrane: Tensor::zeros([batch, neurons], device),
        }
    }
}

impl Synaptic {
    /// One time step.
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: spikes `[batch, neurons]` and the new state
    pub fn forward_step(
        &self,
        input: Tensor<2>,
        state: SynapticState,
    ) -> (Tensor<2>, SynapticState) {
        check_step("Synaptic", &input, self.neurons);
        let constants = self.constants(&input.device());
        let (spikes, _, state) = self.step(input, state, &constants);

        (spikes, state)
    }

    /// A whole sequence, from `state` or from rest, as two fused ops (see [`crate::fused`]): the
    /// synaptic current is a leaky integral of the input, which then drives a LIF scan.
    ///
    /// # Shapes
    /// - `input`: `[time, batch, neurons]`
    /// - returns: spikes `[time, batch, neurons]`, the membrane before each reset
    ///   `[time, batch, neurons]` when `record_membrane`, and the final state
    ///
    /// # Panics
    /// If the last axis of `input` is not `neurons`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<SynapticState>,
        record_membrane: bool,
    ) -> SpikeTrain<SynapticState> {
        let [time, batch, neurons] = check_sequence("Synaptic", &input, self.neurons);
        let device = input.device();
        let state = state.unwrap_or_else(|| SynapticState::zeros(batch, neurons, &device));
        let noise = match self.firing.mode {
            SpikeMode::Deterministic => None,
            SpikeMode::EscapeNoise => Some(sample_noise(
                &self.firing.forward_noise(),
                input.shape(),
                &device,
            )),
            // `F(u - threshold)` is not a spike: the per-step loop computes it.
            SpikeMode::Expected => {
                return self.forward_per_step(input, Some(state), record_membrane);
            }
        };

        let synapse_decay = self.synapse_decay.values(neurons, &device);
        let current = leaky_sequence(input, state.current, synapse_decay);
        let scan = LifScan {
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            surrogate: self.firing.surrogate(),
        };
        let (spikes, membrane, last) = lif_sequence(
            current.clone(),
            state.membrane,
            self.decay.values(neurons, &device),
            self.threshold.values(neurons, &device),
            noise,
            scan,
            record_membrane,
        );
        SpikeTrain {
            spikes,
            membrane,
            state: SynapticState {
                current: step_of(&current, time - 1),
                membrane: last,
            },
        }
    }

    /// [`forward`](Synaptic::forward) as a per-step loop: the reference the fused ops are
    /// tested against.
    ///
    /// # Shapes
    /// - as [`forward`](Synaptic::forward)
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<SynapticState>,
        record_membrane: bool,
    ) -> SpikeTrain<SynapticState> {
        let [_, batch, _] = check_sequence("Synaptic", &input, self.neurons);
        let state =
            state.unwrap_or_else(|| SynapticState::zeros(batch, self.neurons, &input.device()));

        let constants = self.constants(&input.device());

        scan(&input, state, record_membrane, |input, state| {
            self.step(input, state, &constants)
        })
    }

    /// The synaptic and membrane decays and the `[1, neurons]` threshold row, resolved once per
    /// sequence.
    fn constants(&self, device: &Device) -> (DecayFactor, DecayFactor, Tensor<2>) {
        let threshold = self.threshold.row(self.neurons, device);
        (self.synapse_decay.factor(), self.decay.factor(), threshold)
    }

    fn step(
        &self,
        input: Tensor<2>,
        state: SynapticState,
        (synapse_decay, decay, threshold): &(DecayFactor, DecayFactor, Tensor<2>),
    ) -> (Tensor<2>, Tensor<2>, SynapticState) {
        let current = synapse_decay.apply(state.current) + input; // [batch, neurons]
        let integrated = decay.apply(state.membrane) + current.clone();
        let (spikes, membrane) = fire_and_reset(
            &self.firing,
            integrated.clone(),
            threshold.clone(),
            self.reset,
            self.reset_gradient,
        );

        (spikes, integrated, SynapticState { current, membrane })
    }
}
