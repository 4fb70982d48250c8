//! The fused ops on `Autodiff`: the forward runs once on the inner backend and each output gets
//! its own graph node, whose backward is the inner backend's reverse-time scan.
//!
//! Giving each output (spikes, membranes, final state) its own node keeps the backward free of
//! slicing: an output nobody reads is never visited, and one that is read starts the scan with
//! its own gradient. When several outputs reach the loss, their scans add up, as the chain rule
//! does.

use burn::backend::Backend;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::{
    Adaptation, AdaptiveOutput, LifOutput, LifScan, Needs, SequenceBackend, SparseCache,
    SparseInput,
};

/// What the backward of every output of one LIF scan needs.
#[derive(Debug, Clone)]
struct LifSaved<B: Backend> {
    spikes: FloatTensor<B>,
    membrane: FloatTensor<B>,
    initial: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: LifScan,
}

#[derive(Debug)]
struct LifScanBackward(LifOutput);

impl<B: SequenceBackend> Backward<B, 4> for LifScanBackward {
    type State = LifSaved<B>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [current, initial, decay, threshold] = ops.parents;
        let needs = Needs {
            decay: decay.is_some(),
            threshold: threshold.is_some(),
            weight: false,
        };
        let saved = ops.state;
        let gradients = B::lif_scan_backward(
            saved.spikes,
            saved.membrane,
            saved.initial,
            saved.decay,
            saved.threshold,
            grad,
            self.0,
            saved.scan,
            needs,
        );
        let (g_current, g_initial, g_decay, g_threshold) = gradients;
        for (node, gradient) in [
            (current, g_current),
            (initial, g_initial),
            (decay, g_decay),
            (threshold, g_threshold),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

/// Registers `output` as the node of one output of a LIF scan.
fn lif_node<B: SequenceBackend, C: CheckpointStrategy>(
    which: LifOutput,
    parents: [NodeGuard; 4],
    saved: &LifSaved<B>,
    output: FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    match LifScanBackward(which)
        .prepare::<C>(parents)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(saved.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// The spikes, membranes and final membrane of a LIF scan.
type LifOutputs<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

/// Runs `forward` on the inner backend and gives each of its three outputs a node.
fn record_lif<B: SequenceBackend, C: CheckpointStrategy>(
    current: FloatTensor<Autodiff<B, C>>,
    initial: FloatTensor<Autodiff<B, C>>,
    decay: FloatTensor<Autodiff<B, C>>,
    threshold: FloatTensor<Autodiff<B, C>>,
    scan: LifScan,
    forward: impl FnOnce(
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    ) -> LifOutputs<B>,
) -> LifOutputs<Autodiff<B, C>> {
    let parents = || {
        [
            current.node(),
            initial.node(),
            decay.node(),
            threshold.node(),
        ]
    };
    let (for_spikes, for_membrane, for_last) = (parents(), parents(), parents());
    let (current, initial, decay, threshold) = (
        current.into_primitive(),
        initial.into_primitive(),
        decay.into_primitive(),
        threshold.into_primitive(),
    );
    let (spikes, membrane, last) =
        forward(current, initial.clone(), decay.clone(), threshold.clone());
    let saved = LifSaved {
        spikes: spikes.clone(),
        membrane: membrane.clone(),
        initial,
        decay,
        threshold,
        scan,
    };
    (
        lif_node::<B, C>(LifOutput::Spikes, for_spikes, &saved, spikes),
        lif_node::<B, C>(LifOutput::Membrane, for_membrane, &saved, membrane),
        lif_node::<B, C>(LifOutput::Last, for_last, &saved, last),
    )
}

/// What the backward of every output of one recurrent LIF scan needs.
#[derive(Debug, Clone)]
struct RecurrentSaved<B: Backend> {
    spikes: FloatTensor<B>,
    membrane: FloatTensor<B>,
    weight: FloatTensor<B>,
    initial: FloatTensor<B>,
    initial_spikes: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: LifScan,
}

#[derive(Debug)]
struct RecurrentScanBackward(LifOutput);

impl<B: SequenceBackend> Backward<B, 6> for RecurrentScanBackward {
    type State = RecurrentSaved<B>;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [current, weight, initial, initial_spikes, decay, threshold] = ops.parents;
        let needs = Needs {
            decay: decay.is_some(),
            threshold: threshold.is_some(),
            weight: weight.is_some(),
        };
        let saved = ops.state;
        let (g_current, g_weight, g_initial, g_initial_spikes, g_decay, g_threshold) =
            B::recurrent_lif_scan_backward(
                saved.spikes,
                saved.membrane,
                saved.weight,
                saved.initial,
                saved.initial_spikes,
                saved.decay,
                saved.threshold,
                grad,
                self.0,
                saved.scan,
                needs,
            );
        for (node, gradient) in [
            (current, g_current),
            (weight, g_weight),
            (initial, g_initial),
            (initial_spikes, g_initial_spikes),
            (decay, g_decay),
            (threshold, g_threshold),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

/// What the backward of every output of one adaptive LIF scan needs.
#[derive(Debug, Clone)]
struct AdaptiveSaved<B: Backend> {
    spikes: FloatTensor<B>,
    membrane: FloatTensor<B>,
    adaptations: FloatTensor<B>,
    initial: FloatTensor<B>,
    initial_adaptation: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: LifScan,
    adaptation: Adaptation,
}

#[derive(Debug)]
struct AdaptiveScanBackward(AdaptiveOutput);

impl<B: SequenceBackend> Backward<B, 5> for AdaptiveScanBackward {
    type State = AdaptiveSaved<B>;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [current, initial, initial_adaptation, decay, threshold] = ops.parents;
        let needs = Needs {
            decay: decay.is_some(),
            threshold: threshold.is_some(),
            weight: false,
        };
        let saved = ops.state;
        let (g_current, g_initial, g_adaptation, g_decay, g_threshold) =
            B::adaptive_lif_scan_backward(
                saved.spikes,
                saved.membrane,
                saved.adaptations,
                saved.initial,
                saved.initial_adaptation,
                saved.decay,
                saved.threshold,
                grad,
                self.0,
                saved.scan,
                saved.adaptation,
                needs,
            );
        for (node, gradient) in [
            (current, g_current),
            (initial, g_initial),
            (initial_adaptation, g_adaptation),
            (decay, g_decay),
            (threshold, g_threshold),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

#[derive(Debug)]
struct LeakyScanBackward;

impl<B: SequenceBackend> Backward<B, 3> for LeakyScanBackward {
    /// The membranes, the initial membrane and the decay.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [current, initial, decay] = ops.parents;
        let (membrane, initial_value, decay_value) = ops.state;
        let (g_current, g_initial, g_decay) =
            B::leaky_scan_backward(membrane, initial_value, decay_value, grad, decay.is_some());
        for (node, gradient) in [(current, g_current), (initial, g_initial), (decay, g_decay)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

#[derive(Debug)]
struct SpikeLinearBackward;

impl<B: SequenceBackend> Backward<B, 2> for SpikeLinearBackward {
    /// The input, the weight, the sparse-input setting and what the forward kept.
    type State = (FloatTensor<B>, FloatTensor<B>, SparseInput, SparseCache);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [input, weight] = ops.parents;
        let (input_value, weight_value, sparse, cache) = ops.state;
        if let Some(node) = input {
            let g = B::float_matmul(grad.clone(), B::float_transpose(weight_value));
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = weight {
            let g = B::spike_linear_weight_grad(input_value, grad, sparse, cache);
            grads.register::<B>(node.id, g);
        }
    }
}

impl<B: SequenceBackend, C: CheckpointStrategy> SequenceBackend for Autodiff<B, C> {
    fn lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        record_lif::<B, C>(current, initial, decay, threshold, scan, |c, i, d, t| {
            B::lif_scan(c, i, d, t, scan)
        })
    }

    fn lif_scan_noisy(
        current: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // The noise is a constant: its graph, if any, is cut here.
        let noise = noise.into_primitive();
        record_lif::<B, C>(current, initial, decay, threshold, scan, |c, i, d, t| {
            B::lif_scan_noisy(c, noise, i, d, t, scan)
        })
    }

    fn recurrent_lif_scan(
        current: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_spikes: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> LifOutputs<Self> {
        let parents = || {
            [
                current.node(),
                weight.node(),
                initial.node(),
                initial_spikes.node(),
                decay.node(),
                threshold.node(),
            ]
        };
        let (for_spikes, for_membrane, for_last) = (parents(), parents(), parents());
        let [current, weight, initial, initial_spikes, decay, threshold] =
            [current, weight, initial, initial_spikes, decay, threshold]
                .map(|tensor| tensor.into_primitive());
        let (spikes, membrane, last) = B::recurrent_lif_scan(
            current,
            weight.clone(),
            initial.clone(),
            initial_spikes.clone(),
            decay.clone(),
            threshold.clone(),
            scan,
        );
        let saved = RecurrentSaved {
            spikes: spikes.clone(),
            membrane: membrane.clone(),
            weight,
            initial,
            initial_spikes,
            decay,
            threshold,
            scan,
        };
        let node = |which: LifOutput, parents: [NodeGuard; 6], output: FloatTensor<B>| {
            match RecurrentScanBackward(which)
                .prepare::<C>(parents)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(saved.clone(), output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            }
        };
        (
            node(LifOutput::Spikes, for_spikes, spikes),
            node(LifOutput::Membrane, for_membrane, membrane),
            node(LifOutput::Last, for_last, last),
        )
    }

    fn adaptive_lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_adaptation: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
        adaptation: Adaptation,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let parents = || {
            [
                current.node(),
                initial.node(),
                initial_adaptation.node(),
                decay.node(),
                threshold.node(),
            ]
        };
        let guards = [(); 4].map(|_| parents());
        let [current, initial, initial_adaptation, decay, threshold] =
            [current, initial, initial_adaptation, decay, threshold]
                .map(|tensor| tensor.into_primitive());
        let (spikes, membrane, last, adaptations) = B::adaptive_lif_scan(
            current,
            initial.clone(),
            initial_adaptation.clone(),
            decay.clone(),
            threshold.clone(),
            scan,
            adaptation,
        );
        let saved = AdaptiveSaved {
            spikes: spikes.clone(),
            membrane: membrane.clone(),
            adaptations: adaptations.clone(),
            initial,
            initial_adaptation,
            decay,
            threshold,
            scan,
            adaptation,
        };
        let [for_spikes, for_membrane, for_last, for_adaptations] = guards;
        let node = |which: AdaptiveOutput, parents: [NodeGuard; 5], output: FloatTensor<B>| {
            match AdaptiveScanBackward(which)
                .prepare::<C>(parents)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(saved.clone(), output),
                OpsKind::UnTracked(prep) => prep.finish(output),
            }
        };
        (
            node(AdaptiveOutput::Spikes, for_spikes, spikes),
            node(AdaptiveOutput::Membrane, for_membrane, membrane),
            node(AdaptiveOutput::Last, for_last, last),
            node(AdaptiveOutput::Adaptation, for_adaptations, adaptations),
        )
    }

    fn leaky_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let parents = [current.node(), initial.node(), decay.node()];
        let (current, initial, decay) = (
            current.into_primitive(),
            initial.into_primitive(),
            decay.into_primitive(),
        );
        match LeakyScanBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let membrane = B::leaky_scan(current, initial.clone(), decay.clone());
                prep.finish((membrane.clone(), initial, decay), membrane)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::leaky_scan(current, initial, decay)),
        }
    }

    fn spike_linear(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        sparse: SparseInput,
        cache: SparseCache,
    ) -> FloatTensor<Self> {
        let parents = [input.node(), weight.node()];
        let (input, weight) = (input.into_primitive(), weight.into_primitive());
        match SpikeLinearBackward
            .prepare::<C>(parents)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let output = B::spike_linear(input.clone(), weight.clone(), sparse, cache.clone());
                prep.finish((input, weight, sparse, cache), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::spike_linear(input, weight, sparse, cache)),
        }
    }
}
