//! The LIF-family scans as CubeCL kernels, for the GPU backends. For the feed-forward and
//! adaptive LIF scans and the leaky integrator, one thread per lane (`batch x neurons`) runs the
//! whole time loop, forward or in reverse, so a sequence costs one kernel launch instead of a
//! handful per step. The recurrent scan keeps Burn's matmul for each step's feedback and runs
//! the rest of the step as one kernel.
//!
//! The surrogate density of every step is one elementwise pass before the reverse scan (the
//! same [`surrogate_density`] the primitive ops use), so the kernels know no noise family.

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Slice, TensorMetadata};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::primitive::parameter_gradient;
use super::{Adaptation, AdaptiveOutput, LifOutput, LifScan, Needs};
use crate::neuron::Reset;
use crate::spike::backend::surrogate_density;

/// The element type the kernels are launched for (see [`supported`]).
const F32: ElemType = ElemType::Float(cubecl::ir::FloatKind::F32);

/// Threads per cube: lanes are independent, so any width that fills the device works.
const CUBE_WIDTH: u32 = 256;

/// The reset as two coefficients, `v = u - s * (by_threshold * threshold + by_membrane * u)`,
/// as in the native loops.
fn reset_coefficients(kind: Reset) -> (f32, f32) {
    match kind {
        Reset::Subtract => (1.0, 0.0),
        Reset::Zero => (0.0, 1.0),
        Reset::None => (0.0, 0.0),
    }
}

/// The LIF scan of one lane (`ABSOLUTE_POS`) over `[steps, lanes]` sequences: see
/// [`SequenceBackend::lif_scan`](super::SequenceBackend::lif_scan). With `noisy`, `noise` is
/// added to the drive `u - threshold` before the spike; without, it is not read.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn lif_forward_kernel<F: Float>(
    current: &Tensor<F>,
    noise: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    last: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    #[comptime] noisy: bool,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let mut v = initial[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        let u = v * d + current[at];
        // As the reference writes it: `u >= theta` differs where `u - theta` flushes to zero.
        let mut drive = u - theta;
        if comptime!(noisy) {
            drive += noise[at];
        }
        let mut s = F::new(0.0);
        if drive >= F::new(0.0) {
            s = F::new(1.0);
        }
        spikes[at] = s;
        membrane[at] = u;
        v = u - s * (bt * theta + bm * u);
    }
    last[lane] = v;
}

/// The reverse-time scan of one lane: see [`super::primitive::lif_scan_backward`] for the rule.
/// `grad` is the gradient of the spikes (`output` 0), the membranes (1) or the final membrane
/// (2, one value per lane).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn lif_backward_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let one = F::new(1.0);
    let mut lambda = F::new(0.0);
    if comptime!(output == 2) {
        lambda = grad[lane];
    }
    let mut decay_sum = F::new(0.0);
    let mut threshold_sum = F::new(0.0);
    let count = steps as usize;
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        let (u, s, p) = (membrane[at], spikes[at], density[at]);
        let mut gs = -(bt * theta + bm * u) * through * lambda;
        let mut gu = lambda * (one - bm * s);
        if comptime!(output == 0) {
            gs += grad[at];
        }
        if comptime!(output == 1) {
            gu += grad[at];
        }
        gu += gs * p;
        threshold_sum += -bt * s * lambda - gs * p;
        let mut previous = initial[lane];
        if t > 0 {
            let (u0, s0) = (membrane[at - lanes], spikes[at - lanes]);
            previous = u0 - s0 * (bt * theta + bm * u0);
        }
        decay_sum += gu * previous;
        grad_current[at] = gu;
        lambda = d * gu;
    }
    grad_initial[lane] = lambda;
    decay_lanes[lane] = decay_sum;
    threshold_lanes[lane] = threshold_sum;
}

/// One step of a recurrent LIF scan for one lane: `u = v * decay + current + feedback`, where
/// `feedback` is the previous step's spikes times the recurrent weight; writes step `step` of
/// the spikes and membranes and the lane's membrane after the reset to `v`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn recurrent_step_kernel<F: Float>(
    current: &Tensor<F>,
    feedback: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    v: &mut Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    step: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let at = (step as usize) * lanes + lane;
    let u = v[lane] * decay[neuron] + current[at] + feedback[lane];
    let mut s = F::new(0.0);
    if u - theta >= F::new(0.0) {
        s = F::new(1.0);
    }
    spikes[at] = s;
    membrane[at] = u;
    v[lane] = u - s * (bt * theta + bm * u);
}

/// One reverse step of a recurrent LIF scan for one lane: [`lif_backward_kernel`]'s loop body
/// at step `step`, with `feedback` the gradient of this step's spikes through the recurrent
/// weight into the next step. `lambda` and the parameter sums carry over between steps.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn recurrent_backward_step_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    feedback: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    lambda: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    step: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let t = step as usize;
    let at = t * lanes + lane;
    let l = lambda[lane];
    let (u, s, p) = (membrane[at], spikes[at], density[at]);
    let mut gs = feedback[lane] - (bt * theta + bm * u) * through * l;
    let mut gu = l * (F::new(1.0) - bm * s);
    if comptime!(output == 0) {
        gs += grad[at];
    }
    if comptime!(output == 1) {
        gu += grad[at];
    }
    gu += gs * p;
    threshold_lanes[lane] += -bt * s * l - gs * p;
    let mut previous = initial[lane];
    if t > 0 {
        let (u0, s0) = (membrane[at - lanes], spikes[at - lanes]);
        previous = u0 - s0 * (bt * theta + bm * u0);
    }
    decay_lanes[lane] += gu * previous;
    grad_current[at] = gu;
    lambda[lane] = decay[neuron] * gu;
}

/// The adaptive LIF scan of one lane: [`lif_forward_kernel`] against the threshold
/// `a * strength + threshold`, with `a = a * rho + s` after every step (see
/// [`super::primitive::adaptive_scan`]).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adaptive_forward_kernel<F: Float>(
    current: &Tensor<F>,
    initial: &Tensor<F>,
    initial_adaptation: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    last: &mut Tensor<F>,
    adaptations: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    strength: f32,
    rho: f32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let (beta, rho) = (F::cast_from(strength), F::cast_from(rho));
    let mut v = initial[lane];
    let mut a = initial_adaptation[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        let u = v * d + current[at];
        let effective = a * beta + theta;
        let mut s = F::new(0.0);
        if u - effective >= F::new(0.0) {
            s = F::new(1.0);
        }
        v = u - s * (bt * effective + bm * u);
        a = a * rho + s;
        spikes[at] = s;
        membrane[at] = u;
        adaptations[at] = a;
    }
    last[lane] = v;
}

/// The reverse-time scan of one adaptive lane: see
/// [`super::primitive::adaptive_scan_backward`] for the rule. `output` is 0 for the spikes, 1
/// the membranes, 2 the final membrane (`grad` one value per lane), 3 the adaptations.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adaptive_backward_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    adaptations: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    initial_adaptation: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    grad_initial_adaptation: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    strength: f32,
    rho: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let (beta, rho) = (F::cast_from(strength), F::cast_from(rho));
    let one = F::new(1.0);
    let mut lambda = F::new(0.0);
    if comptime!(output == 2) {
        lambda = grad[lane];
    }
    let mut kappa = F::new(0.0);
    let mut decay_sum = F::new(0.0);
    let mut threshold_sum = F::new(0.0);
    let count = steps as usize;
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        if comptime!(output == 3) {
            kappa += grad[at];
        }
        // The effective threshold of step t, from the adaptation before it.
        let mut before = initial_adaptation[lane];
        if t > 0 {
            before = adaptations[at - lanes];
        }
        let effective = before * beta + theta;
        let (u, s, p) = (membrane[at], spikes[at], density[at]);
        let mut gs = kappa;
        if comptime!(output == 0) {
            gs += grad[at];
        }
        gs += -(bt * effective + bm * u) * through * lambda;
        let mut gu = lambda * (one - bm * s) + gs * p;
        if comptime!(output == 1) {
            gu += grad[at];
        }
        let grad_theta = -bt * s * lambda - gs * p;
        threshold_sum += grad_theta;
        let mut previous = initial[lane];
        if t > 0 {
            let mut earlier = initial_adaptation[lane];
            if t > 1 {
                earlier = adaptations[at - 2 * lanes];
            }
            let effective0 = earlier * beta + theta;
            let (u0, s0) = (membrane[at - lanes], spikes[at - lanes]);
            previous = u0 - s0 * (bt * effective0 + bm * u0);
        }
        decay_sum += gu * previous;
        kappa = kappa * rho + grad_theta * beta;
        grad_current[at] = gu;
        lambda = gu * d;
    }
    grad_initial[lane] = lambda;
    grad_initial_adaptation[lane] = kappa;
    decay_lanes[lane] = decay_sum;
    threshold_lanes[lane] = threshold_sum;
}

/// The leaky integrator of one lane over `[steps, lanes]` sequences.
#[cube(launch)]
fn leaky_forward_kernel<F: Float>(
    current: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    membrane: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let d = decay[lane % (neurons as usize)];
    let mut u = initial[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        u = u * d + current[at];
        membrane[at] = u;
    }
}

/// The reverse-time scan of a leaky integrator's lane: see
/// [`super::primitive::leaky_scan_backward`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn leaky_backward_kernel<F: Float>(
    membrane: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let d = decay[lane % (neurons as usize)];
    let mut lambda = F::new(0.0);
    let mut decay_sum = F::new(0.0);
    let count = steps as usize;
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        let total = grad[at] + lambda;
        let mut previous = initial[lane];
        if t > 0 {
            previous = membrane[at - lanes];
        }
        decay_sum += total * previous;
        grad_current[at] = total;
        lambda = total * d;
    }
    grad_initial[lane] = lambda;
    decay_lanes[lane] = decay_sum;
}

/// The surrogate density `p(u - threshold)` of every step, `[time, batch, neurons]`.
fn densities<B: Backend>(
    membrane: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: &LifScan,
) -> FloatTensor<B> {
    let neurons = threshold.shape()[0];
    let row = B::float_reshape(threshold, Shape::new([1, 1, neurons]));
    surrogate_density::<B>(B::float_sub(membrane, row), &scan.surrogate)
}

/// Whether the kernels can take these tensors: `f32` (the dtype they are launched for), and
/// few enough elements that the `u32` sizes they are handed hold them.
pub(crate) fn supported(tensors: &[&CubeTensor]) -> bool {
    tensors.iter().all(|tensor| {
        tensor.dtype == DType::F32 && tensor.shape().num_elements() <= u32::MAX as usize
    })
}

/// An uninitialised tensor of `shape` on `tensor`'s device, in its dtype.
fn empty_like(tensor: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_dtype(
        tensor.client.clone(),
        tensor.device.clone(),
        shape,
        tensor.dtype,
    )
}

/// One thread per lane.
fn cube_count(lanes: usize) -> (CubeCount, CubeDim) {
    let cubes = (lanes as u32).div_ceil(CUBE_WIDTH).max(1);
    (CubeCount::Static(cubes, 1, 1), CubeDim::new_1d(CUBE_WIDTH))
}

/// [`SequenceBackend::lif_scan`](super::SequenceBackend::lif_scan) (with `noise`,
/// [`lif_scan_noisy`](super::SequenceBackend::lif_scan_noisy)) as one kernel.
pub(crate) fn lif_scan(
    current: CubeTensor,
    noise: Option<CubeTensor>,
    initial: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [current, initial, decay, threshold] =
        [current, initial, decay, threshold].map(into_contiguous);
    let noisy = noise.is_some();
    // Without noise the kernel reads no noise; the current stands in for the argument.
    let noise = into_contiguous(noise.unwrap_or_else(|| current.clone()));
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape);
    let last = empty_like(&initial, initial.shape());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    lif_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        noise.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.into_tensor_arg(),
        threshold.into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        last.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        noisy,
        F32,
    );
    (spikes, membrane, last)
}

/// [`SequenceBackend::lif_scan_backward`](super::SequenceBackend::lif_scan_backward) as one
/// elementwise density pass and one kernel, then the batch sums of the parameter gradients.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lif_scan_backward(
    spikes: CubeTensor,
    membrane: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: LifOutput,
    scan: &LifScan,
    needs: Needs,
) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
    type B = CubeBackend;
    let [spikes, membrane, initial, decay, threshold, grad] =
        [spikes, membrane, initial, decay, threshold, grad].map(into_contiguous);
    let shape = spikes.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    let lanes = batch * neurons;
    let density = into_contiguous(densities::<B>(membrane.clone(), threshold.clone(), scan));
    let grad_current = empty_like(&spikes, shape);
    let state = initial.shape();
    let grad_initial = empty_like(&initial, state.clone());
    let decay_lanes = empty_like(&initial, state.clone());
    let threshold_lanes = empty_like(&initial, state);
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        LifOutput::Spikes => 0,
        LifOutput::Membrane => 1,
        LifOutput::Last => 2,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    lif_backward_kernel::launch(
        &client,
        count,
        dim,
        spikes.into_tensor_arg(),
        membrane.into_tensor_arg(),
        density.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        threshold.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        threshold_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        through_reset,
        output,
        F32,
    );
    (
        grad_current,
        grad_initial,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    )
}

/// [`SequenceBackend::leaky_scan`](super::SequenceBackend::leaky_scan) as one kernel.
pub(crate) fn leaky_scan(
    current: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
) -> CubeTensor {
    let [current, initial, decay] = [current, initial, decay].map(into_contiguous);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let membrane = empty_like(&current, shape);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    leaky_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        F32,
    );
    membrane
}

/// [`SequenceBackend::leaky_scan_backward`](super::SequenceBackend::leaky_scan_backward) as one
/// kernel, then the batch sum of the decay's gradient.
pub(crate) fn leaky_scan_backward(
    membrane: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
    grad: CubeTensor,
    needs_decay: bool,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [membrane, initial, decay, grad] = [membrane, initial, decay, grad].map(into_contiguous);
    let shape = membrane.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let grad_current = empty_like(&membrane, shape);
    let state = initial.shape();
    let grad_initial = empty_like(&initial, state.clone());
    let decay_lanes = empty_like(&initial, state);
    let (count, dim) = cube_count(lanes);
    let client = membrane.client.clone();
    leaky_backward_kernel::launch(
        &client,
        count,
        dim,
        membrane.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        F32,
    );
    (
        grad_current,
        grad_initial,
        parameter_gradient::<CubeBackend>(decay_lanes, needs_decay, &decay),
    )
}

/// The surrogate density `p(u - a_{t-1} * strength - threshold)` of every step of an adaptive
/// scan, `[time, batch, neurons]`.
fn adaptive_densities<B: Backend>(
    membrane: FloatTensor<B>,
    adaptations: FloatTensor<B>,
    initial_adaptation: FloatTensor<B>,
    threshold: FloatTensor<B>,
    strength: f64,
    scan: &LifScan,
) -> FloatTensor<B> {
    let shape = membrane.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    // The adaptation before every step: the initial one, then all but the last step's.
    let first = B::float_reshape(initial_adaptation, Shape::new([1, batch, neurons]));
    let before = if steps > 1 {
        let earlier = B::float_slice(
            adaptations,
            &[Slice::from(0..steps - 1), Slice::from(..), Slice::from(..)],
        );
        B::float_cat(vec![first, earlier], 0)
    } else {
        first
    };
    let row = B::float_reshape(threshold, Shape::new([1, 1, neurons]));
    // The reference's order: a * beta + threshold.
    let effective = B::float_add(B::float_mul_scalar(before, strength.into()), row);
    surrogate_density::<B>(B::float_sub(membrane, effective), &scan.surrogate)
}

/// [`SequenceBackend::adaptive_lif_scan`](super::SequenceBackend::adaptive_lif_scan) as one
/// kernel: the spikes, membranes, final membrane and adaptations.
pub(crate) fn adaptive_scan(
    current: CubeTensor,
    initial: CubeTensor,
    initial_adaptation: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
    adaptation: &Adaptation,
) -> [CubeTensor; 4] {
    let [current, initial, initial_adaptation, decay, threshold] =
        [current, initial, initial_adaptation, decay, threshold].map(into_contiguous);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape.clone());
    let adaptations = empty_like(&current, shape);
    let last = empty_like(&initial, initial.shape());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    adaptive_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        initial.into_tensor_arg(),
        initial_adaptation.into_tensor_arg(),
        decay.into_tensor_arg(),
        threshold.into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        last.clone().into_tensor_arg(),
        adaptations.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        adaptation.strength as f32,
        adaptation.decay as f32,
        F32,
    );
    [spikes, membrane, last, adaptations]
}

/// The backward of [`adaptive_scan`] as one elementwise density pass and one kernel: gradients
/// of the current, the initial membrane, the initial adaptation, the decay and the threshold.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adaptive_scan_backward(
    [spikes, membrane, adaptations]: [CubeTensor; 3],
    initial: CubeTensor,
    initial_adaptation: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: AdaptiveOutput,
    scan: &LifScan,
    adaptation: &Adaptation,
    needs: Needs,
) -> [CubeTensor; 5] {
    type B = CubeBackend;
    let [
        spikes,
        membrane,
        adaptations,
        initial,
        initial_adaptation,
        decay,
        threshold,
        grad,
    ] = [
        spikes,
        membrane,
        adaptations,
        initial,
        initial_adaptation,
        decay,
        threshold,
        grad,
    ]
    .map(into_contiguous);
    let shape = spikes.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let density = into_contiguous(adaptive_densities::<B>(
        membrane.clone(),
        adaptations.clone(),
        initial_adaptation.clone(),
        threshold.clone(),
        adaptation.strength,
        scan,
    ));
    let grad_current = empty_like(&spikes, shape);
    let state = initial.shape();
    let [
        grad_initial,
        grad_initial_adaptation,
        decay_lanes,
        threshold_lanes,
    ] = [(); 4].map(|_| empty_like(&initial, state.clone()));
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        AdaptiveOutput::Spikes => 0,
        AdaptiveOutput::Membrane => 1,
        AdaptiveOutput::Last => 2,
        AdaptiveOutput::Adaptation => 3,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    adaptive_backward_kernel::launch(
        &client,
        count,
        dim,
        spikes.into_tensor_arg(),
        membrane.into_tensor_arg(),
        adaptations.into_tensor_arg(),
        density.into_tensor_arg(),
        initial.into_tensor_arg(),
        initial_adaptation.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        threshold.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        grad_initial_adaptation.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        threshold_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        through_reset,
        adaptation.strength as f32,
        adaptation.decay as f32,
        output,
        F32,
    );
    [
        grad_current,
        grad_initial,
        grad_initial_adaptation,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    ]
}

/// Step `t` of a `[time, batch, neurons]` tensor, as `[batch, neurons]`.
fn step_of<B: Backend>(sequence: FloatTensor<B>, t: usize) -> FloatTensor<B> {
    let shape = sequence.shape();
    let slices = [Slice::from(t..t + 1), Slice::from(..), Slice::from(..)];
    B::float_reshape(
        B::float_slice(sequence, &slices),
        Shape::new([shape[1], shape[2]]),
    )
}

/// [`SequenceBackend::recurrent_lif_scan`](super::SequenceBackend::recurrent_lif_scan): per
/// step, the previous spikes times the weight (Burn's matmul) and one kernel for the rest.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recurrent_scan(
    current: CubeTensor,
    weight: CubeTensor,
    initial: CubeTensor,
    initial_spikes: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    type B = CubeBackend;
    let [current, weight, initial, initial_spikes, decay, threshold] =
        [current, weight, initial, initial_spikes, decay, threshold].map(into_contiguous);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape);
    // The membrane after each step's reset, updated in place by every step's kernel.
    let v = into_contiguous(B::float_add_scalar(initial, 0.0.into()));
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    let mut previous = initial_spikes;
    for t in 0..steps {
        let feedback = into_contiguous(B::float_matmul(previous, weight.clone()));
        recurrent_step_kernel::launch(
            &client,
            count.clone(),
            dim,
            current.clone().into_tensor_arg(),
            feedback.into_tensor_arg(),
            decay.clone().into_tensor_arg(),
            threshold.clone().into_tensor_arg(),
            v.clone().into_tensor_arg(),
            spikes.clone().into_tensor_arg(),
            membrane.clone().into_tensor_arg(),
            t as u32,
            lanes as u32,
            neurons as u32,
            by_threshold,
            by_membrane,
            F32,
        );
        previous = into_contiguous(step_of::<B>(spikes.clone(), t));
    }
    (spikes, membrane, v)
}

/// The backward of [`recurrent_scan`]: per step one kernel and the spikes' gradient through the
/// weight (Burn's matmul); the weight's gradient is one matmul over all steps at the end.
/// Returns the gradients of the current, the weight, the initial membrane, the initial spikes,
/// the decay and the threshold.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recurrent_scan_backward(
    [spikes, membrane, weight]: [CubeTensor; 3],
    initial: CubeTensor,
    initial_spikes: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: LifOutput,
    scan: &LifScan,
    needs: Needs,
) -> [CubeTensor; 6] {
    type B = CubeBackend;
    let [
        spikes,
        membrane,
        weight,
        initial,
        initial_spikes,
        decay,
        threshold,
        grad,
    ] = [
        spikes,
        membrane,
        weight,
        initial,
        initial_spikes,
        decay,
        threshold,
        grad,
    ]
    .map(into_contiguous);
    let shape = spikes.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    let lanes = batch * neurons;
    let density = into_contiguous(densities::<B>(membrane.clone(), threshold.clone(), scan));
    let grad_current = empty_like(&spikes, shape);
    let zeros = || into_contiguous(B::float_mul_scalar(initial.clone(), 0.0.into()));
    let lambda = match output {
        LifOutput::Last => into_contiguous(B::float_add_scalar(grad.clone(), 0.0.into())),
        LifOutput::Spikes | LifOutput::Membrane => zeros(),
    };
    let (decay_lanes, threshold_lanes) = (zeros(), zeros());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        LifOutput::Spikes => 0,
        LifOutput::Membrane => 1,
        LifOutput::Last => 2,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    let transposed = B::float_transpose(weight.clone());
    let mut feedback = zeros();
    for t in (0..steps).rev() {
        recurrent_backward_step_kernel::launch(
            &client,
            count.clone(),
            dim,
            spikes.clone().into_tensor_arg(),
            membrane.clone().into_tensor_arg(),
            density.clone().into_tensor_arg(),
            initial.clone().into_tensor_arg(),
            decay.clone().into_tensor_arg(),
            threshold.clone().into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            feedback.into_tensor_arg(),
            grad_current.clone().into_tensor_arg(),
            lambda.clone().into_tensor_arg(),
            decay_lanes.clone().into_tensor_arg(),
            threshold_lanes.clone().into_tensor_arg(),
            t as u32,
            lanes as u32,
            neurons as u32,
            by_threshold,
            by_membrane,
            through_reset,
            output,
            F32,
        );
        let gu = step_of::<B>(grad_current.clone(), t);
        feedback = into_contiguous(B::float_matmul(gu, transposed.clone()));
    }
    let weight_grad = if needs.weight {
        // sum over t of s_{t-1}^T @ gu_t, with s_{-1} the initial spikes: one product of the
        // shifted spikes and the current's gradient, both as [time * batch, neurons].
        let first = B::float_reshape(initial_spikes, Shape::new([1, batch, neurons]));
        let before = if steps > 1 {
            let earlier = B::float_slice(
                spikes,
                &[Slice::from(0..steps - 1), Slice::from(..), Slice::from(..)],
            );
            B::float_cat(vec![first, earlier], 0)
        } else {
            first
        };
        let rows = Shape::new([steps * batch, neurons]);
        B::float_matmul(
            B::float_transpose(B::float_reshape(before, rows.clone())),
            B::float_reshape(grad_current.clone(), rows),
        )
    } else {
        B::float_mul_scalar(weight, 0.0.into())
    };
    [
        grad_current,
        weight_grad,
        lambda,
        feedback,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    ]
}
