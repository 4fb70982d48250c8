//! A non-spiking leaky integrator whose membrane is a network's output.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::{Decay, check_neurons, check_sequence, check_step, scan, step_of, valid};
use crate::NnError;
use crate::fused::leaky_sequence;

/// Configuration of a [`LeakyReadout`]: `v <- decay * v + input`, never firing.
#[derive(Config, Debug)]
pub struct LeakyReadoutConfig {
    /// Number of output units.
    pub neurons: usize,
    /// Membrane decay per step, in `(0, 1]` (`(0, 1)` when learned). Default 0.95.
    #[config(default = 0.95)]
    pub decay: f64,
    /// Learn one decay per unit. Default false.
    #[config(default = false)]
    pub learn_decay: bool,
}

impl LeakyReadoutConfig {
    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("LeakyReadout", self.neurons)?;
        Decay::check("LeakyReadout", "decay", self.decay, self.learn_decay)
    }

    /// Builds the readout on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](LeakyReadoutConfig::validate)).
    pub fn init(&self, device: &Device) -> LeakyReadout {
        valid(self.validate());
        LeakyReadout {
            decay: Decay::new(self.decay, self.learn_decay, self.neurons, device),
            neurons: self.neurons,
        }
    }
}

/// A layer of leaky integrators read out through their membrane. Built by
/// [`LeakyReadoutConfig::init`].
#[derive(Module, Debug)]
pub struct LeakyReadout {
    /// The membrane decay.
    pub decay: Decay,
    /// Number of output units.
    pub neurons: usize,
}

/// The state of a [`LeakyReadout`] between steps.
#[derive(Debug, Clone)]
pub struct LeakyReadoutState {
    /// The membrane potential, `[batch, neurons]`.
    pub membrane: Tensor<2>,
}

impl LeakyReadoutState {
    /// The resting state: every membrane at 0.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        LeakyReadoutState {
            membrane: Tensor::zeros([batch, neurons], device),
        }
    }
}

impl LeakyReadout {
    /// One time step.
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: the membrane `[batch, neurons]` and the new state
    pub fn forward_step(
        &self,
        input: Tensor<2>,
        state: LeakyReadoutState,
    ) -> (Tensor<2>, LeakyReadoutState) {
        check_step("LeakyReadout", &input, self.neurons);
        let membrane = self.decay.apply(state.membrane) + input;

        (membrane.clone(), LeakyReadoutState { membrane })
    }

    /// A whole sequence, from `state` or from rest, as one fused op (see [`crate::fused`]).
    ///
    /// # Shapes
    /// - `input`: `[time, batch, neurons]`
    /// - returns: the membrane `[time, batch, neurons]` and the final state
    ///
    /// # Panics
    /// If the last axis of `input` is not `neurons`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<LeakyReadoutState>,
    ) -> (Tensor<3>, LeakyReadoutState) {
        let [time, batch, neurons] = check_sequence("LeakyReadout", &input, self.neurons);
        let device = input.device();
        let state = state.unwrap_or_else(|| LeakyReadoutState::zeros(batch, neurons, &device));
        let decay = self.decay.values(neurons, &device);
        let membrane = leaky_sequence(input, state.membrane, decay);
        let last = step_of(&membrane, time - 1);

        (membrane, LeakyReadoutState { membrane: last })
    }

    /// [`forward`](LeakyReadout::forward) as a per-step loop: the reference the fused op is
    /// tested against.
    ///
    /// # Shapes
    /// - as [`forward`](LeakyReadout::forward)
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<LeakyReadoutState>,
    ) -> (Tensor<3>, LeakyReadoutState) {
        let [_, batch, _] = check_sequence("LeakyReadout", &input, self.neurons);
        let state =
            state.unwrap_or_else(|| LeakyReadoutState::zeros(batch, self.neurons, &input.device()));

        let decay = self.decay.factor();

        let train = scan(&input, state, false, |input, state| {
            let membrane = decay.apply(state.membrane) + input;
            (
                membrane.clone(),
                membrane.clone(),
                LeakyReadoutState { membrane },
            )
        });

        // A readout never fires: what `scan` stacked as its output is the membrane.
        (train.spikes, train.state)
    }
}
