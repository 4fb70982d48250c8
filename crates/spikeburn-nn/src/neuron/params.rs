//! The per-neuron constants of a spiking layer, fixed or learnable.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::NnError;

/// A decay factor per step, in `(0, 1]`, shared by a layer or learned per neuron.
///
/// A learnable decay is stored as a free logit `q` with decay `sigmoid(q)`, so it stays in
/// `(0, 1)` while its gradient `sigmoid'(q)` never vanishes. Clamping a raw decay into `[0, 1]`
/// instead stops its gradient as soon as it touches a bound.
#[derive(Module, Debug)]
pub struct Decay {
    /// The logits of a learnable decay, `[neurons]`.
    pub(crate) logit: Option<Param<Tensor<1>>>,
    /// The decay when it is not learned.
    fixed: f64,
}

impl Decay {
    /// Checks `value` as the decay called `field` of `layer`; `learnable` excludes 1.
    pub(crate) fn check(
        layer: &'static str,
        field: &'static str,
        value: f64,
        learnable: bool,
    ) -> Result<(), NnError> {
        let valid = value > 0.0 && (value < 1.0 || (value == 1.0 && !learnable));
        if valid {
            return Ok(());
        }
        Err(NnError::InvalidConfig {
            layer,
            field,
            value: value.to_string(),
            expected: if learnable {
                "a learnable decay in (0, 1)"
            } else {
                "a decay in (0, 1]"
            },
        })
    }

    /// A decay of `value` for `neurons` neurons, learned when `learnable`.
    pub(crate) fn new(value: f64, learnable: bool, neurons: usize, device: &Device) -> Self {
        let logit = learnable.then(|| {
            let logit = (value / (1.0 - value)).ln();
            Param::from_tensor(Tensor::full([neurons], logit, device))
        });

        Decay {
            logit,
            fixed: value,
        }
    }

    /// Whether the decay is a parameter.
    pub fn is_learned(&self) -> bool {
        self.logit.is_some()
    }

    /// `decay * membrane`.
    ///
    /// # Shapes
    /// - `membrane`: `[batch, neurons]`
    /// - returns: `[batch, neurons]`
    pub fn apply(&self, membrane: Tensor<2>) -> Tensor<2> {
        self.factor().apply(membrane)
    }

    /// The decay resolved once for a whole sequence, so that a learned decay's sigmoid is not
    /// recomputed (and recorded for autodiff) at every step.
    pub(crate) fn factor(&self) -> DecayFactor {
        match &self.logit {
            Some(logit) => {
                let decay = burn::tensor::activation::sigmoid(logit.val()).unsqueeze();
                DecayFactor::PerNeuron(Box::new(decay))
            }
            None => DecayFactor::Fixed(self.fixed),
        }
    }

    /// The decay of each neuron.
    ///
    /// # Shapes
    /// - returns: `[neurons]`
    pub fn values(&self, neurons: usize, device: &Device) -> Tensor<1> {
        match &self.logit {
            Some(logit) => burn::tensor::activation::sigmoid(logit.val()),
            None => Tensor::full([neurons], self.fixed, device),
        }
    }
}

/// A [`Decay`] resolved for one sequence.
#[derive(Debug, Clone)]
pub(crate) enum DecayFactor {
    /// The same decay for every neuron.
    Fixed(f64),
    /// One decay per neuron, `[1, neurons]` (boxed: a tensor handle is much larger than an f64).
    PerNeuron(Box<Tensor<2>>),
}

impl DecayFactor {
    /// `decay * membrane`, for a `[batch, neurons]` membrane.
    pub(crate) fn apply(&self, membrane: Tensor<2>) -> Tensor<2> {
        match self {
            DecayFactor::Fixed(decay) => membrane * *decay,
            DecayFactor::PerNeuron(decay) => membrane * decay.as_ref().clone(),
        }
    }
}

/// A firing threshold, shared by a layer or learned per neuron.
#[derive(Module, Debug)]
pub struct Threshold {
    /// A learnable threshold, `[neurons]`.
    pub(crate) learned: Option<Param<Tensor<1>>>,
    /// The threshold when it is not learned.
    fixed: f64,
}

impl Threshold {
    /// Checks `value` as the threshold of `layer`.
    pub(crate) fn check(layer: &'static str, value: f64) -> Result<(), NnError> {
        if value > 0.0 && value.is_finite() {
            return Ok(());
        }
        Err(NnError::InvalidConfig {
            layer,
            field: "threshold",
            value: value.to_string(),
            expected: "a positive, finite threshold",
        })
    }

    /// A threshold of `value` for `neurons` neurons, learned when `learnable`.
    pub(crate) fn new(value: f64, learnable: bool, neurons: usize, device: &Device) -> Self {
        let learned = learnable.then(|| Param::from_tensor(Tensor::full([neurons], value, device)));

        Threshold {
            learned,
            fixed: value,
        }
    }

    /// Whether the threshold is a parameter.
    pub fn is_learned(&self) -> bool {
        self.learned.is_some()
    }

    /// The threshold broadcast against a `[batch, neurons]` membrane.
    ///
    /// # Shapes
    /// - returns: `[1, neurons]`
    pub fn row(&self, neurons: usize, device: &Device) -> Tensor<2> {
        self.values(neurons, device).unsqueeze()
    }

    /// The threshold of each neuron.
    ///
    /// # Shapes
    /// - returns: `[neurons]`
    pub fn values(&self, neurons: usize, device: &Device) -> Tensor<1> {
        match &self.learned {
            Some(threshold) => threshold.val(),
            None => Tensor::full([neurons], self.fixed, device),
        }
    }
}
