#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod batched;
pub mod benchmarks;
mod confounding;
mod effects;
mod error;
mod estimators;
mod exact;
mod kind;
mod network;
mod propagation;
mod simulate;
mod stats;

pub use batched::{BatchedIntervention, BatchedNetwork, BatchedTrajectory};
pub use confounding::{ConfoundedPair, ConfoundedPairSpec, PairEstimates, PairObservations};
pub use effects::{
    Backdoor, DiscontinuityFit, EffectEstimate, NodeObservations, RegressionDiscontinuity,
    two_stage_least_squares, wald,
};
pub use error::CausalError;
pub use estimators::{
    Baseline, DoublyRobust, DoublyRobustParams, FiniteDifference, FiniteDifferenceParams,
    GradientEstimate, NodePerturbation, NodePerturbationParams, Propagation, PropagationParams,
    Reinforce, ReinforceParams, SpikeIntervention, SpikeInterventionParams, WeightPerturbation,
    WeightPerturbationParams,
};
pub use exact::{ENUMERATION_LIMIT, Enumeration, EnumerationParams, ExactExpectations};
pub use kind::EstimatorKind;
pub use network::{
    InputSpec, Layer, LayerSpec, Loss, LossSpec, Network, NetworkSpec, NodeId, PerUnit, Readout,
    Synapse, WeightId,
};
pub use propagation::{
    ParameterGradient, PropagationMode, propagated_effects, propagated_gradient,
    propagated_parameters, propagated_parameters_all, surrogate_backward,
};
pub use simulate::{Intervention, NoiseStreams, Trajectory};
pub use spikeburn_noise::Noise;
pub use stats::cosine;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Network>();
        check::<NetworkSpec>();
        check::<Trajectory>();
        check::<ExactExpectations>();
        check::<GradientEstimate>();
        check::<EffectEstimate>();
        check::<CausalError>();
    }
}
