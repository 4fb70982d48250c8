//! Every Monte Carlo gradient estimator by name, with its default hyper-parameters, for
//! command lines and experiments that run them side by side.

use core::fmt;
use core::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::CausalError;
use crate::estimators::{
    DoublyRobust, FiniteDifference, GradientEstimate, NodePerturbation, Propagation, Reinforce,
    SpikeIntervention, WeightPerturbation,
};
use crate::network::Network;
use crate::propagation::PropagationMode;

/// A gradient estimator of the expected loss, named as on command lines and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// [`Propagation`] with [`PropagationMode::Linearised`]: the surrogate gradient.
    Surrogate,
    /// [`Propagation`] with [`PropagationMode::ExactDifference`].
    ExactDifference,
    /// [`FiniteDifference`] with common random numbers.
    FiniteDifference,
    /// [`SpikeIntervention`].
    SpikeIntervention,
    /// [`Reinforce`] with a running-mean baseline.
    Reinforce,
    /// [`DoublyRobust`].
    DoublyRobust,
    /// [`NodePerturbation`] with a running-mean baseline.
    NodePerturbation,
    /// [`WeightPerturbation`].
    WeightPerturbation,
}

impl EstimatorKind {
    /// Every estimator, in the order of THEORY.md section 3's list after enumeration.
    pub const ALL: [EstimatorKind; 8] = [
        EstimatorKind::Surrogate,
        EstimatorKind::ExactDifference,
        EstimatorKind::FiniteDifference,
        EstimatorKind::SpikeIntervention,
        EstimatorKind::Reinforce,
        EstimatorKind::DoublyRobust,
        EstimatorKind::NodePerturbation,
        EstimatorKind::WeightPerturbation,
    ];

    /// The estimator's name.
    pub fn name(self) -> &'static str {
        match self {
            EstimatorKind::Surrogate => "surrogate",
            EstimatorKind::ExactDifference => "exact_difference",
            EstimatorKind::FiniteDifference => "finite_difference",
            EstimatorKind::SpikeIntervention => "spike_intervention",
            EstimatorKind::Reinforce => "reinforce",
            EstimatorKind::DoublyRobust => "doubly_robust",
            EstimatorKind::NodePerturbation => "node_perturbation",
            EstimatorKind::WeightPerturbation => "weight_perturbation",
        }
    }

    /// Estimates the gradient of `network`'s expected loss from `samples` samples, with the
    /// estimator's default hyper-parameters.
    pub fn estimate<R: Rng + ?Sized>(
        self,
        network: &Network,
        samples: usize,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        match self {
            EstimatorKind::Surrogate | EstimatorKind::ExactDifference => {
                let mode = if self == EstimatorKind::Surrogate {
                    PropagationMode::Linearised
                } else {
                    PropagationMode::ExactDifference
                };
                let params = Propagation::params().samples(samples).mode(mode);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::FiniteDifference => {
                let params = FiniteDifference::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::SpikeIntervention => {
                let params = SpikeIntervention::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::Reinforce => {
                let params = Reinforce::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::DoublyRobust => {
                let params = DoublyRobust::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::NodePerturbation => {
                let params = NodePerturbation::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
            EstimatorKind::WeightPerturbation => {
                let params = WeightPerturbation::params().samples(samples);
                params.check()?.estimate(network, rng)
            }
        }
    }
}

impl fmt::Display for EstimatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EstimatorKind {
    type Err = CausalError;

    /// Reads an estimator name; `-` may stand for `_`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let wanted = name.trim().replace('-', "_");
        EstimatorKind::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
            .ok_or_else(|| CausalError::UnknownEstimator(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for kind in EstimatorKind::ALL {
            assert_eq!(kind.name().parse::<EstimatorKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert_eq!(
            "node-perturbation".parse::<EstimatorKind>().unwrap(),
            EstimatorKind::NodePerturbation
        );
        let message = "reinforcement"
            .parse::<EstimatorKind>()
            .unwrap_err()
            .to_string();
        assert!(message.contains("`reinforcement`"), "{message}");
        assert!(message.contains("spike_intervention"), "{message}");
    }
}
