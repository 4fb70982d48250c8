//! The fused ops as native loops over `f32` slices, for the CPU backends.
//!
//! A sequence `[time, batch, neurons]` is `time` rows of `batch * neurons` independent lanes.
//! Each thread owns a contiguous range of lanes in every row and runs the whole time loop over
//! it, so the recurrence costs one pass over memory and no per-step dispatch. Sparse input keeps
//! the active entries of each row and adds only their weight rows.

mod adaptive;

pub(crate) use adaptive::{AdaptiveInputs, AdaptiveSaved, adaptive_scan, adaptive_scan_backward};

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use spikeburn_noise::Family;

use super::{LifOutput, LifScan, Needs};
use crate::neuron::Reset;
use crate::spike::Surrogate;

/// Runs `body` compiled for the best SIMD level this CPU has (AVX2 and FMA on x86-64): the
/// loops it inlines are vectorised for it, whatever the crate's build target.
#[inline(always)]
fn simd<R>(body: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(body)
}

/// Fewest lanes per thread: below this, splitting costs more than it saves.
const MIN_LANES_PER_THREAD: usize = 4096;

/// The `lanes = batch x neurons` of a step split into contiguous ranges of whole batch rows, one
/// per thread, so that each thread's inner loop runs over the neurons of a row.
fn lane_ranges(lanes: usize, neurons: usize) -> Vec<core::ops::Range<usize>> {
    let batch = lanes / neurons.max(1);
    let threads = rayon::current_num_threads()
        .min(lanes.div_ceil(MIN_LANES_PER_THREAD))
        .min(batch)
        .max(1);
    let rows = batch.div_ceil(threads);
    (0..threads)
        .map(|i| (i * rows * neurons).min(lanes)..((i + 1) * rows * neurons).min(lanes))
        .filter(|range| !range.is_empty())
        .collect()
}

/// The rows of `data` (`rows x lanes`), cut into one list of row pieces per lane range.
fn split_rows<'a>(
    data: &'a mut [f32],
    lanes: usize,
    ranges: &[core::ops::Range<usize>],
) -> Vec<Vec<&'a mut [f32]>> {
    let mut parts: Vec<Vec<&mut [f32]>> = ranges.iter().map(|_| Vec::new()).collect();
    for row in data.chunks_mut(lanes) {
        let mut rest = row;
        for (part, range) in parts.iter_mut().zip(ranges) {
            let (piece, tail) = rest.split_at_mut(range.len());
            part.push(piece);
            rest = tail;
        }
    }
    parts
}

/// Several buffers of `lanes`-wide rows cut as [`split_rows`] cuts one: for each lane range, the
/// row pieces of every buffer, in the order given.
fn split_all<'a, const K: usize>(
    buffers: [&'a mut [f32]; K],
    lanes: usize,
    ranges: &[core::ops::Range<usize>],
) -> Vec<[Vec<&'a mut [f32]>; K]> {
    let mut parts = buffers.map(|buffer| split_rows(buffer, lanes, ranges).into_iter());
    ranges
        .iter()
        .map(|_| {
            parts
                .each_mut()
                .map(|part| part.next().expect("a piece per range"))
        })
        .collect()
}

/// Calls `run` with the surrogate `gain * p(x)` as an `f32` closure, monomorphised per family so
/// that the inner loops inline it. The formulas are those of
/// [`surrogate_density`](crate::spike::backend), in `f32`.
fn with_density<R>(surrogate: &Surrogate, run: impl DensityUser<Output = R>) -> R {
    let noise = surrogate.noise;
    let inverse = (1.0 / noise.scale()) as f32;
    let factor = |constant: f64| (surrogate.gain * constant / noise.scale()) as f32;
    match noise.family() {
        Family::Gaussian => {
            let c = factor(1.0 / (2.0 * core::f64::consts::PI).sqrt());
            run.run(move |x: f32| {
                let z = x * inverse;
                c * (z * z * -0.5).exp()
            })
        }
        Family::Logistic => {
            let c = factor(1.0);
            run.run(move |x: f32| {
                let e = (-(x * inverse).abs()).exp();
                let d = e + 1.0;
                c * (e / (d * d))
            })
        }
        Family::Cauchy => {
            let c = factor(1.0 / core::f64::consts::PI);
            run.run(move |x: f32| {
                let z = x * inverse;
                c * (z * z + 1.0).recip()
            })
        }
        Family::Laplace => {
            let c = factor(0.5);
            run.run(move |x: f32| c * (-(x * inverse).abs()).exp())
        }
        Family::Uniform => {
            let c = factor(0.5);
            run.run(move |x: f32| if (x * inverse).abs() <= 1.0 { c } else { 0.0 })
        }
        Family::Triangular => {
            let c = factor(1.0);
            run.run(move |x: f32| c * (1.0 - (x * inverse).abs()).max(0.0))
        }
        Family::FastSigmoid => {
            let c = factor(0.5);
            run.run(move |x: f32| {
                let d = (x * inverse).abs() + 1.0;
                c * (d * d).recip()
            })
        }
        Family::StudentT2 => {
            let c = factor(0.5);
            run.run(move |x: f32| {
                let z = x * inverse;
                c * (z * z + 1.0).powf(-1.5)
            })
        }
    }
}

/// Code generic over the density closure (closures cannot be generic themselves).
trait DensityUser {
    type Output;
    fn run<P: Fn(f32) -> f32 + Sync + Copy>(self, density: P) -> Self::Output;
}

/// A reset as two coefficients, `v = u - s * (by_threshold * threshold + by_membrane * u)`, so
/// that the inner loops hold no branch on its kind and vectorise: subtract is `(1, 0)`, zero
/// `(0, 1)` and none `(0, 0)`.
#[derive(Clone, Copy)]
struct ResetRule {
    by_threshold: f32,
    by_membrane: f32,
}

impl ResetRule {
    fn of(kind: Reset) -> Self {
        let (by_threshold, by_membrane) = match kind {
            Reset::Subtract => (1.0, 0.0),
            Reset::Zero => (0.0, 1.0),
            Reset::None => (0.0, 0.0),
        };
        ResetRule {
            by_threshold,
            by_membrane,
        }
    }

    /// The membrane after the reset, for a membrane `u` before it and spike `s`.
    #[inline(always)]
    fn apply(self, u: f32, s: f32, threshold: f32) -> f32 {
        u - s * self.drop(u, threshold)
    }

    /// What a spike takes off the membrane `u`: `-dv/ds`.
    #[inline(always)]
    fn drop(self, u: f32, threshold: f32) -> f32 {
        self.by_threshold * threshold + self.by_membrane * u
    }
}

/// The inputs of a LIF scan, as slices.
pub(crate) struct LifInputs<'a> {
    /// `[time, batch, neurons]`.
    pub current: Cow<'a, [f32]>,
    /// `[batch, neurons]`.
    pub initial: Cow<'a, [f32]>,
    /// `[neurons]`.
    pub decay: Cow<'a, [f32]>,
    /// `[neurons]`.
    pub threshold: Cow<'a, [f32]>,
    /// `[time, batch, neurons]`.
    pub noise: Option<Cow<'a, [f32]>>,
    /// The recurrent weights `[neurons, neurons]` and initial spikes `[batch, neurons]`.
    pub recurrent: Option<HostRecurrent<'a>>,
    /// `neurons`.
    pub neurons: usize,
}

/// The recurrent connections of a LIF scan, as slices.
pub(crate) struct HostRecurrent<'a> {
    /// `[neurons, neurons]`: row `j` is what a spike of neuron `j` adds to the next step.
    pub weight: Cow<'a, [f32]>,
    /// `[batch, neurons]`.
    pub initial_spikes: Cow<'a, [f32]>,
}

/// `sum_j spikes[j] * weight[j, ..]` into `into`: the recurrent input of one batch row, from the
/// neurons that fired.
#[inline(always)]
fn feedback_row(into: &mut [f32], spikes: &[f32], weight: &[f32]) {
    into.fill(0.0);
    let neurons = into.len();
    nonzeros(spikes, |j, s| {
        let w = &weight[j * neurons..(j + 1) * neurons];
        if s == 1.0 {
            add(into, w);
        } else {
            add_scaled(into, w, s);
        }
    });
}

/// Spikes, membranes before the reset and the final membrane of a LIF scan; the membranes are
/// empty unless `keep_membrane` (an inference caller that reads only spikes then writes no
/// membrane sequence).
///
/// The current's buffer becomes the membranes (without them, the spikes): each step reads its
/// current and writes its output in the same place, so one output fewer is allocated and
/// zero-filled. A borrowed current is copied first.
pub(crate) fn lif_scan(
    mut inputs: LifInputs,
    scan: &LifScan,
    keep_membrane: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut io = core::mem::take(&mut inputs.current).into_owned();
    let inputs = &inputs;
    let lanes = inputs.initial.len();
    let neurons = inputs.neurons;
    let mut spikes = vec![0.0; if keep_membrane { io.len() } else { 0 }];
    let mut last = inputs.initial.to_vec();
    let ranges = lane_ranges(lanes, neurons);
    let io_parts = split_rows(&mut io, lanes, &ranges);
    let mut spike_parts = keep_membrane
        .then(|| split_rows(&mut spikes, lanes, &ranges).into_iter())
        .into_iter()
        .flatten();
    let last_parts = split_rows(&mut last, lanes, &ranges);

    let work = ranges
        .iter()
        .zip(io_parts)
        .zip(last_parts)
        .map(|((range, io), v)| (range.start, io, spike_parts.next(), v))
        .collect::<Vec<_>>();
    work.into_par_iter()
        .for_each(|(start, mut io_rows, mut spike_rows, mut last)| {
            let v = &mut *last[0];
            let spike_rows = spike_rows.as_deref_mut();
            simd(
                #[inline(always)]
                || lif_forward_chunk(inputs, scan, start, &mut io_rows, spike_rows, v),
            )
        });

    if keep_membrane {
        (spikes, io, last)
    } else {
        (io, Vec::new(), last)
    }
}

/// The whole scan of the lanes `start..start + v.len()` (whole batch rows): `io_rows[t]` is
/// their piece of step `t`, which holds the current and receives the membranes, or the spikes
/// when `spike_rows` is `None`; `v` is their membranes.
#[inline(always)]
fn lif_forward_chunk(
    inputs: &LifInputs,
    scan: &LifScan,
    start: usize,
    io_rows: &mut [&mut [f32]],
    mut spike_rows: Option<&mut [&mut [f32]]>,
    v: &mut [f32],
) {
    let (lanes, neurons, width) = (inputs.initial.len(), inputs.neurons, v.len());
    let mut feedback = vec![0.0; neurons];
    for t in 0..io_rows.len() {
        let at = t * lanes + start..t * lanes + start + width;
        let noise = inputs.noise.as_ref().map(|noise| &noise[at]);
        let (io_done, io_rest) = io_rows.split_at_mut(t);
        let io_row = &mut *io_rest[0];
        // The spikes of the steps before, for the recurrent input, and this step's spike row.
        let (spikes_done, mut s_row) = match spike_rows.as_deref_mut() {
            Some(rows) => {
                let (done, rest) = rows.split_at_mut(t);
                (&*done, Some(&mut *rest[0]))
            }
            None => (&*io_done, None),
        };
        for b in 0..width / neurons {
            let row = b * neurons..(b + 1) * neurons;
            if let Some(recurrent) = &inputs.recurrent {
                let previous = match spikes_done.last() {
                    Some(previous) => &previous[row.clone()],
                    None => &recurrent.initial_spikes[start + row.start..start + row.end],
                };
                feedback_row(&mut feedback, previous, &recurrent.weight);
            }
            let step = LifStep {
                kind: scan.reset,
                feedback: &feedback,
                noise: noise.map(|noise| &noise[row.clone()]),
                decay: &inputs.decay,
                threshold: &inputs.threshold,
            };
            let (v, io) = (&mut v[row.clone()], &mut io_row[row.clone()]);
            match s_row.as_deref_mut() {
                Some(s_row) => lif_row::<true>(step, v, io, &mut s_row[row]),
                None => lif_row::<false>(step, v, io, &mut []),
            }
        }
    }
}

/// What one step of a LIF row reads besides its current. `feedback` is the recurrent input
/// (zeros without recurrence: adding 0 changes no value).
#[derive(Clone, Copy)]
struct LifStep<'a> {
    kind: Reset,
    feedback: &'a [f32],
    noise: Option<&'a [f32]>,
    decay: &'a [f32],
    threshold: &'a [f32],
}

/// One step of one batch row of a LIF scan: updates `v`; `io` holds the current and receives
/// the membranes, and `spikes` the spikes, when `MEMBRANE`; otherwise `io` receives the spikes
/// and `spikes` is not read.
#[inline(always)]
fn lif_row<const MEMBRANE: bool>(step: LifStep, v: &mut [f32], io: &mut [f32], spikes: &mut [f32]) {
    match step.noise {
        None => lif_lanes::<MEMBRANE, false>(step, &[], v, io, spikes),
        Some(noise) => lif_lanes::<MEMBRANE, true>(step, noise, v, io, spikes),
    }
}

/// [`lif_row`] with or without escape noise added before the threshold (`NOISE`), so that
/// the loop holds no branch on it.
#[inline(always)]
fn lif_lanes<const MEMBRANE: bool, const NOISE: bool>(
    step: LifStep,
    noise: &[f32],
    v: &mut [f32],
    io: &mut [f32],
    spikes: &mut [f32],
) {
    let n = v.len();
    let io = &mut io[..n];
    let (decay, threshold) = (&step.decay[..n], &step.threshold[..n]);
    let feedback = &step.feedback[..n];
    let noise = if NOISE { &noise[..n] } else { &[][..] };
    let spikes = if MEMBRANE {
        &mut spikes[..n]
    } else {
        &mut [][..]
    };
    let rule = ResetRule::of(step.kind);
    for j in 0..n {
        let u = v[j] * decay[j] + io[j] + feedback[j];
        let x = if NOISE {
            u - threshold[j] + noise[j]
        } else {
            u - threshold[j]
        };
        let s = if x >= 0.0 { 1.0 } else { 0.0 };
        if MEMBRANE {
            spikes[j] = s;
            io[j] = u;
        } else {
            io[j] = s;
        }
        v[j] = rule.apply(u, s, threshold[j]);
    }
}

/// The saved forward of a LIF scan and the gradient arriving at one of its outputs.
pub(crate) struct LifSaved<'a> {
    /// `[time, batch, neurons]`.
    pub spikes: Cow<'a, [f32]>,
    /// `[time, batch, neurons]`, before the reset.
    pub membrane: Cow<'a, [f32]>,
    /// The upstream gradient of `output`.
    pub grad: Cow<'a, [f32]>,
    /// Which output `grad` belongs to.
    pub output: LifOutput,
}

/// Gradients of a LIF scan's current, initial membrane, decay and threshold, and of its
/// recurrent weight and initial spikes (empty and zeros without recurrence).
pub(crate) struct LifGradients {
    pub current: Vec<f32>,
    pub initial: Vec<f32>,
    pub decay: Vec<f32>,
    pub threshold: Vec<f32>,
    pub weight: Vec<f32>,
    pub initial_spikes: Vec<f32>,
}

/// The reverse-time scan of a LIF layer. `lambda` is `dL/dv` for the membrane after the reset;
/// see [`super::primitive::lif_scan_backward`] for the same rule written with tensor ops.
pub(crate) fn lif_scan_backward(
    inputs: &LifInputs,
    mut saved: LifSaved,
    scan: &LifScan,
    needs: Needs,
) -> LifGradients {
    struct Backward<'a, 'b> {
        inputs: &'a LifInputs<'b>,
        saved: &'a LifSaved<'b>,
        scan: &'a LifScan,
        needs: Needs,
        grad_current: Vec<f32>,
    }

    impl DensityUser for Backward<'_, '_> {
        type Output = LifGradients;

        fn run<P: Fn(f32) -> f32 + Sync + Copy>(self, density: P) -> LifGradients {
            let Backward {
                inputs,
                saved,
                scan,
                needs,
                mut grad_current,
            } = self;
            let lanes = inputs.initial.len();
            let neurons = inputs.neurons;
            let mut grad_initial = vec![0.0; lanes];
            let mut grad_spikes = vec![0.0; lanes];
            let mut lane_decay = vec![0.0; lanes];
            let mut lane_threshold = vec![0.0; lanes];
            let ranges = lane_ranges(lanes, neurons);
            let panels = inputs
                .recurrent
                .as_ref()
                .map(|recurrent| Panels::new(&recurrent.weight, neurons));
            let parts = split_all(
                [
                    &mut grad_current,
                    &mut grad_initial,
                    &mut grad_spikes,
                    &mut lane_decay,
                    &mut lane_threshold,
                ],
                lanes,
                &ranges,
            );
            let work = ranges
                .iter()
                .zip(parts)
                .map(|(range, [c, i, s, d, th])| {
                    let [i, s, d, th] = [i, s, d, th].map(|mut part| part.remove(0));
                    (
                        range.start,
                        c,
                        ChunkSums {
                            lambda: i,
                            feedback: s,
                            decay: d,
                            threshold: th,
                        },
                    )
                })
                .collect::<Vec<_>>();

            let weight_sums: Vec<Vec<f32>> = work
                .into_par_iter()
                .map(|(start, mut current_rows, sums)| {
                    simd(
                        #[inline(always)]
                        || {
                            lif_backward_chunk(
                                inputs,
                                saved,
                                scan,
                                needs,
                                density,
                                start,
                                &mut current_rows,
                                sums,
                                panels.as_ref(),
                            )
                        },
                    )
                })
                .collect();
            let weight = weight_sums
                .into_iter()
                .reduce(|mut total, sum| {
                    add(&mut total, &sum);
                    total
                })
                .unwrap_or_default();

            LifGradients {
                current: grad_current,
                initial: grad_initial,
                decay: per_neuron(&lane_decay, neurons),
                threshold: per_neuron(&lane_threshold, neurons),
                weight,
                initial_spikes: grad_spikes,
            }
        }
    }

    // A gradient of the spikes or membranes has the current's shape, and each step reads its
    // row before writing the current's gradient there: its buffer becomes the result.
    let grad_current = match saved.output {
        LifOutput::Last => vec![0.0; saved.spikes.len()],
        LifOutput::Spikes | LifOutput::Membrane => core::mem::take(&mut saved.grad).into_owned(),
    };
    with_density(
        &scan.surrogate,
        Backward {
            inputs,
            saved: &saved,
            scan,
            needs,
            grad_current,
        },
    )
}

/// A thread's lanes of the per-lane results of the LIF backward: `dL/dv` (after the scan, the
/// initial membrane's gradient), `dL/ds` through the recurrent weights (after the scan, the
/// initial spikes'), and the decay's and threshold's per-lane sums.
struct ChunkSums<'a> {
    lambda: &'a mut [f32],
    feedback: &'a mut [f32],
    decay: &'a mut [f32],
    threshold: &'a mut [f32],
}

/// The reverse-time scan of the lanes `start..` (whole batch rows); returns the recurrent
/// weight's gradient from these lanes (empty without recurrence).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_backward_chunk<P: Fn(f32) -> f32 + Copy>(
    inputs: &LifInputs,
    saved: &LifSaved,
    scan: &LifScan,
    needs: Needs,
    density: P,
    start: usize,
    current_rows: &mut [&mut [f32]],
    sums: ChunkSums,
    panels: Option<&Panels>,
) -> Vec<f32> {
    let (lanes, neurons) = (inputs.initial.len(), inputs.neurons);
    let width = sums.lambda.len();
    let rows = width / neurons;
    let zeros = vec![0.0; neurons];
    let mut weight_sum = match &inputs.recurrent {
        Some(_) if needs.weight => vec![0.0; neurons * neurons],
        _ => Vec::new(),
    };
    if saved.output == LifOutput::Last {
        sums.lambda
            .copy_from_slice(&saved.grad[start..start + width]);
    }
    let at = |t: usize| t * lanes + start..t * lanes + start + width;
    // The row of each step holds the gradient of its spikes or membranes (zeros when only the
    // final membrane's reaches the scan, which entered `lambda` above) until it is replaced by
    // the current's.
    let upstream = Upstream::of(saved.output);
    for t in (0..current_rows.len()).rev() {
        let here = at(t);
        let (spikes, membrane) = (&saved.spikes[here.clone()], &saved.membrane[here.clone()]);
        let previous = (t > 0).then(|| {
            let there = at(t - 1);
            (&saved.spikes[there.clone()], &saved.membrane[there])
        });
        let out = &mut *current_rows[t];
        for b in 0..rows {
            let row = b * neurons..(b + 1) * neurons;
            let (previous_spikes, previous_membrane) = match previous {
                Some((s, u)) => (&s[row.clone()], &u[row.clone()]),
                None => (
                    &zeros[..],
                    &inputs.initial[start + row.start..start + row.end],
                ),
            };
            lif_row_backward(
                scan,
                needs,
                density,
                RowBackward {
                    spikes: &spikes[row.clone()],
                    membrane: &membrane[row.clone()],
                    previous_spikes,
                    previous_membrane,
                    upstream,
                    feedback: &sums.feedback[row.clone()],
                    decay: &inputs.decay,
                    threshold: &inputs.threshold,
                },
                &mut sums.lambda[row.clone()],
                &mut out[row.clone()],
                &mut sums.decay[row.clone()],
                &mut sums.threshold[row],
            );
        }
        if let Some(recurrent) = &inputs.recurrent {
            let previous_spikes = match previous {
                Some((s, _)) => s,
                None => &recurrent.initial_spikes[start..start + width],
            };
            if needs.weight {
                // dW[j, ..] += s_{t-1}[b, j] * gu[b, ..]
                for b in 0..rows {
                    let row = b * neurons..(b + 1) * neurons;
                    let gu = &out[row.clone()];
                    nonzeros(&previous_spikes[row], |j, s| {
                        let into = &mut weight_sum[j * neurons..(j + 1) * neurons];
                        if s == 1.0 {
                            add(into, gu);
                        } else {
                            add_scaled(into, gu, s);
                        }
                    });
                }
            }
            // dL/ds_{t-1} = gu @ W^T
            let panels = panels.expect("a recurrent scan packs its weight");
            panels.product(out, sums.feedback);
        }
    }
    weight_sum
}

/// A square weight `W` `[n, n]` laid out for the products `a @ W^T` of the recurrent backward:
/// panel `p` holds, for every `i` in turn, the `width` values `W[p * width + c, i]` (zero past
/// `n`), where `width` is two of the dispatched CPU's vectors.
///
/// matrixmultiply packed the weight again at every step of every thread (W2's
/// `[32, 256] @ [256, 256]`: packing took 9% of its training profile, the kernel 16%), and ran
/// wide products on its own thread pool while ours waited. Packed once per backward, each step's
/// product is register tiles on the calling thread.
pub(crate) struct Panels {
    values: Vec<f32>,
    n: usize,
    width: usize,
}

impl Panels {
    /// Packs `weight` `[n, n]` for the best SIMD level this CPU has.
    pub(crate) fn new(weight: &[f32], n: usize) -> Self {
        struct Pack<'a>(&'a [f32], usize);
        impl pulp::WithSimd for Pack<'_> {
            type Output = Panels;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, simd: S) -> Panels {
                Panels::with_simd(self.0, self.1, simd)
            }
        }
        pulp::Arch::new().dispatch(Pack(weight, n))
    }

    /// Packs `weight` `[n, n]` for the vectors of `S`.
    fn with_simd<S: pulp::Simd>(weight: &[f32], n: usize, _: S) -> Self {
        assert_eq!(weight.len(), n * n, "a square weight of {n} x {n}");
        let width = 2 * S::F32_LANES;
        let mut values = vec![0.0; n.div_ceil(width) * n * width];
        for (p, panel) in values.chunks_exact_mut((n * width).max(1)).enumerate() {
            for (i, column) in panel.chunks_exact_mut(width).enumerate() {
                for (c, value) in column.iter_mut().enumerate().take(n - p * width) {
                    *value = weight[(p * width + c) * n + i];
                }
            }
        }
        Panels { values, n, width }
    }

    /// `out[b, j] = sum_i a[b, i] * W[j, i]` for the rows `b` of `a` and `out` (`[rows, n]`).
    pub(crate) fn product(&self, a: &[f32], out: &mut [f32]) {
        struct Product<'a>(&'a Panels, &'a [f32], &'a mut [f32]);
        impl pulp::WithSimd for Product<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, simd: S) {
                self.0.product_with(self.1, self.2, simd);
            }
        }
        pulp::Arch::new().dispatch(Product(self, a, out));
    }

    /// [`Panels::product`] on the vectors of `S`, which must be those the panels were packed for.
    #[inline(always)]
    fn product_with<S: pulp::Simd>(&self, a: &[f32], out: &mut [f32], simd: S) {
        assert_eq!(
            self.width,
            2 * S::F32_LANES,
            "panels packed for other vectors"
        );
        let n = self.n;
        assert!(
            a.len() == out.len() && a.len().is_multiple_of(n),
            "rows of {n} values"
        );
        if n == 0 {
            return;
        }
        let mut a_rows = a.chunks_exact(n);
        let mut out_rows = out.chunks_exact_mut(n);
        // Six rows by two vectors is twelve accumulators, which leaves AVX2's sixteen registers
        // room for the two weight vectors and the broadcast input.
        loop {
            let left = a_rows.len();
            if left >= 6 {
                self.tile::<S, 6>(simd, &mut a_rows, &mut out_rows);
            } else if left >= 2 {
                self.tile::<S, 2>(simd, &mut a_rows, &mut out_rows);
            } else if left == 1 {
                self.tile::<S, 1>(simd, &mut a_rows, &mut out_rows);
            } else {
                break;
            }
        }
    }

    /// The next `R` rows of the product.
    #[inline(always)]
    fn tile<'a, S: pulp::Simd, const R: usize>(
        &self,
        simd: S,
        a_rows: &mut impl Iterator<Item = &'a [f32]>,
        out_rows: &mut impl Iterator<Item = &'a mut [f32]>,
    ) {
        let (n, width) = (self.n, self.width);
        let a: [&[f32]; R] = core::array::from_fn(|_| a_rows.next().expect("R rows left"));
        let mut out: [&mut [f32]; R] =
            core::array::from_fn(|_| out_rows.next().expect("R rows left"));
        for (p, panel) in self.values.chunks_exact(n * width).enumerate() {
            let sums = tile_sums(simd, S::as_simd_f32s(panel).0, a);
            let columns = p * width..((p + 1) * width).min(n);
            for (sum, row) in sums.iter().zip(&mut out) {
                let row = &mut row[columns.clone()];
                if row.len() == width {
                    let (head, _) = S::as_mut_simd_f32s(row);
                    head.copy_from_slice(sum);
                } else {
                    // The widest vectors (AVX-512's) make panels 32 wide.
                    let mut full = [0.0; 64];
                    let full = &mut full[..width];
                    S::as_mut_simd_f32s(full).0.copy_from_slice(sum);
                    row.copy_from_slice(&full[..row.len()]);
                }
            }
        }
    }
}

/// `sums[r][v] = sum_i a[r][i] * panel[2 i + v]`: one panel's register tile. The sums are
/// returned by value and the loop has no bounds check, so that they stay in registers: with the
/// tile's array updated in place, LLVM stored all twelve every step.
#[inline(always)]
fn tile_sums<S: pulp::Simd, const R: usize>(
    simd: S,
    panel: &[S::f32s],
    a: [&[f32]; R],
) -> [[S::f32s; 2]; R] {
    let n = panel.len() / 2;
    let panel = &panel[..2 * n];
    let a = a.map(|row| &row[..n]);
    let zero = simd.splat_f32s(0.0);
    let mut sums = [[zero; 2]; R];
    for i in 0..n {
        let (w0, w1) = (panel[2 * i], panel[2 * i + 1]);
        for r in 0..R {
            let x = simd.splat_f32s(a[r][i]);
            sums[r][0] = simd.mul_add_f32s(x, w0, sums[r][0]);
            sums[r][1] = simd.mul_add_f32s(x, w1, sums[r][1]);
        }
    }
    sums
}

/// What one batch row of one step of the LIF backward reads.
struct RowBackward<'a> {
    spikes: &'a [f32],
    membrane: &'a [f32],
    /// The previous step's spikes and membrane, whose reset is the membrane this step decayed
    /// from; before step 0, zeros and the initial membrane.
    previous_spikes: &'a [f32],
    previous_membrane: &'a [f32],
    /// Which output the gradient held in the current's row belongs to.
    upstream: Upstream,
    /// `dL/ds` through the recurrent weights into the next step (zeros without them).
    feedback: &'a [f32],
    decay: &'a [f32],
    threshold: &'a [f32],
}

/// Where the upstream gradient held in a step's row enters: its factors on the spike and on the
/// membrane (1 for the output it belongs to, else 0), so that the loop holds no branch on it.
#[derive(Clone, Copy)]
struct Upstream {
    to_spike: f32,
    to_membrane: f32,
}

impl Upstream {
    fn of(output: LifOutput) -> Self {
        let (to_spike, to_membrane) = match output {
            LifOutput::Spikes => (1.0, 0.0),
            LifOutput::Membrane => (0.0, 1.0),
            LifOutput::Last => (0.0, 0.0),
        };
        Upstream {
            to_spike,
            to_membrane,
        }
    }
}

/// One step of one batch row of the LIF backward: see [`lif_scan_backward`]. `grad_current`
/// holds the upstream gradient of the row (see [`Upstream`]) and receives the current's. Which
/// parameter sums it adds to is chosen here, outside the loop, so that the loop has no branch.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lif_row_backward<P: Fn(f32) -> f32>(
    scan: &LifScan,
    needs: Needs,
    density: P,
    row: RowBackward,
    lambda: &mut [f32],
    grad_current: &mut [f32],
    decay_sum: &mut [f32],
    threshold_sum: &mut [f32],
) {
    let sums = (lambda, grad_current, decay_sum, threshold_sum);
    match (needs.decay, needs.threshold) {
        (false, false) => lif_lanes_backward::<P, false, false>(scan, density, row, sums),
        (false, true) => lif_lanes_backward::<P, false, true>(scan, density, row, sums),
        (true, false) => lif_lanes_backward::<P, true, false>(scan, density, row, sums),
        (true, true) => lif_lanes_backward::<P, true, true>(scan, density, row, sums),
    }
}

/// [`lif_row_backward`] with the parameter sums it adds to fixed: `DECAY`, `THRESHOLD`.
#[inline(always)]
fn lif_lanes_backward<P: Fn(f32) -> f32, const DECAY: bool, const THRESHOLD: bool>(
    scan: &LifScan,
    density: P,
    row: RowBackward,
    (lambda, grad_current, decay_sum, threshold_sum): (
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
    ),
) {
    let n = lambda.len();
    let (spikes, membrane) = (&row.spikes[..n], &row.membrane[..n]);
    let Upstream {
        to_spike,
        to_membrane,
    } = row.upstream;
    let (previous_spikes, previous_membrane) =
        (&row.previous_spikes[..n], &row.previous_membrane[..n]);
    let feedback = &row.feedback[..n];
    let (decay, threshold) = (&row.decay[..n], &row.threshold[..n]);
    let (grad_current, decay_sum, threshold_sum) = (
        &mut grad_current[..n],
        &mut decay_sum[..n],
        &mut threshold_sum[..n],
    );
    let rule = ResetRule::of(scan.reset);
    // Without `reset_gradient`, the reset passes no gradient to the spike.
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    for j in 0..n {
        let (u, s, l, theta) = (membrane[j], spikes[j], lambda[j], threshold[j]);
        let p = density(u - theta);
        // v = u - s * drop(u, threshold): its partials in u, s and the threshold.
        let du = 1.0 - rule.by_membrane * s;
        let ds = -rule.drop(u, theta) * through_reset;
        let dthreshold = -rule.by_threshold * s;
        // The upstream gradient, read before the current's gradient takes its place.
        let g = grad_current[j];
        let gs = g * to_spike + feedback[j] + l * ds;
        let gu = g * to_membrane + l * du + gs * p;
        if THRESHOLD {
            threshold_sum[j] += l * dthreshold - gs * p;
        }
        if DECAY {
            let v_previous = rule.apply(previous_membrane[j], previous_spikes[j], theta);
            decay_sum[j] += gu * v_previous;
        }
        grad_current[j] = gu;
        lambda[j] = decay[j] * gu;
    }
}

/// Sums `[batch, neurons]` lane values over the batch.
fn per_neuron(lanes: &[f32], neurons: usize) -> Vec<f32> {
    let mut sums = vec![0.0; neurons];
    for row in lanes.chunks(neurons) {
        for (sum, value) in sums.iter_mut().zip(row) {
            *sum += value;
        }
    }
    sums
}

/// The membranes `u_t = decay * u_{t-1} + current_t` of a leaky integrator; `decay` has one
/// value per neuron, the last axis of `current`.
pub(crate) fn leaky_scan(current: &[f32], initial: &[f32], decay: &[f32]) -> Vec<f32> {
    let lanes = initial.len();
    let decay = per_lane(decay, lanes);
    let mut membrane = vec![0.0; current.len()];
    let mut state = initial.to_vec();
    simd(
        #[inline(always)]
        || {
            for (input, out) in current.chunks(lanes).zip(membrane.chunks_mut(lanes)) {
                for (((u, v), &x), &d) in out.iter_mut().zip(&mut state).zip(input).zip(&decay) {
                    *v = *v * d + x;
                    *u = *v;
                }
            }
        },
    );
    membrane
}

/// A `[neurons]` parameter repeated over the `lanes = batch x neurons` of a step.
fn per_lane(parameter: &[f32], lanes: usize) -> Vec<f32> {
    parameter.iter().copied().cycle().take(lanes).collect()
}

/// Gradients of a leaky integrator's current, initial membrane and decay, from the upstream
/// gradient of its membranes.
pub(crate) fn leaky_scan_backward(
    membrane: &[f32],
    initial: &[f32],
    decay: &[f32],
    grad: &[f32],
    neurons: usize,
    needs_decay: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let lanes = initial.len();
    let time = membrane.len() / lanes.max(1);
    let mut grad_current = vec![0.0; membrane.len()];
    let mut lambda = vec![0.0; lanes];
    let mut lane_decay = vec![0.0; lanes];
    let decay = per_lane(decay, lanes);
    simd(
        #[inline(always)]
        || {
            for t in (0..time).rev() {
                let row = t * lanes..(t + 1) * lanes;
                let previous = if t > 0 {
                    &membrane[row.start - lanes..row.start]
                } else {
                    initial
                };
                let (g, out) = (&grad[row.clone()], &mut grad_current[row]);
                for j in 0..lanes {
                    let total = g[j] + lambda[j];
                    out[j] = total;
                    if needs_decay {
                        lane_decay[j] += total * previous[j];
                    }
                    lambda[j] = decay[j] * total;
                }
            }
        },
    );
    (grad_current, lambda, per_neuron(&lane_decay, neurons))
}

/// The elements of a strided array in row-major order: element `index` is at
/// `sum_k index[k] * strides[k]` of `memory`.
pub(crate) fn gather(memory: &[f32], shape: &[usize], strides: &[usize]) -> Vec<f32> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let Some(last) = shape.len().checked_sub(1) else {
        out.extend(memory.first());
        return out;
    };
    if total == 0 {
        return out;
    }
    let (width, step) = (shape[last], strides[last]);
    let mut index = vec![0usize; last];
    for _ in 0..total / width {
        let offset: usize = index.iter().zip(strides).map(|(i, s)| i * s).sum();
        out.extend((0..width).map(|i| memory[offset + i * step]));
        for axis in (0..last).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// `input^T @ grad` for a dense `[rows, width]` input and a `[rows, outputs]` gradient: the
/// weight gradient `[width, outputs]` of a projection whose input was too dense for
/// [`SparseRows`]. ndarray reads the transposed input through its strides; Burn's
/// `matmul(transpose(input), grad)` took 5.6 ms for a 256 -> 20 readout over 6400 rows, this
/// about 1.9 (and 25 against 40 ms for W1's 700 -> 256 input layer).
pub(crate) fn dense_weight_grad(
    input: &[f32],
    grad: &[f32],
    width: usize,
    outputs: usize,
) -> Vec<f32> {
    let rows = input.len() / width.max(1);
    let input = ndarray::ArrayView2::from_shape((rows, width), input).expect("whole input rows");
    let grad = ndarray::ArrayView2::from_shape((rows, outputs), grad).expect("whole grad rows");
    let mut out = ndarray::Array2::zeros((width, outputs));
    ndarray::linalg::general_mat_mul(1.0, &input.t(), &grad, 0.0, &mut out);
    out.into_raw_vec_and_offset().0
}

/// Kept by a projection whose input was too dense for [`SparseRows`], so that its backward
/// does not scan the input again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenseInput;

/// Outputs summed at once by [`SparseRows::matmul`]: eight AVX registers of eight.
const GATHER_LANES: usize = 64;

/// The nonzero entries of a `[rows, columns]` matrix, row by row (compressed sparse rows).
#[derive(Debug, Clone)]
pub(crate) struct SparseRows {
    /// Where row `r`'s entries start in `columns`; one more than there are rows.
    starts: Vec<usize>,
    /// The column of each entry.
    columns: Vec<u32>,
    /// The value of each entry, or `None` when every entry is 1.
    values: Option<Vec<f32>>,
    /// Number of columns.
    width: usize,
}

impl SparseRows {
    /// The nonzero entries of `matrix`, or `None` when more than `max_density` of them are
    /// nonzero (the dense product is then faster).
    pub(crate) fn find(matrix: &[f32], width: usize, max_density: f64) -> Option<SparseRows> {
        if max_density < 0.0 || width == 0 {
            return None;
        }
        let rows = matrix.len() / width;
        let limit = (max_density * matrix.len() as f64) as usize;
        // Rows in blocks, one block per task; each block lists its own entries and adds them to
        // a shared count, so that every block stops once the matrix is known to be too dense.
        let rows_per_block = rows.div_ceil(rayon::current_num_threads() * 4).max(1);
        let found = AtomicUsize::new(0);
        let blocks: Option<Vec<BlockEntries>> = matrix
            .par_chunks(rows_per_block * width)
            .map(|block| {
                simd(
                    #[inline(always)]
                    || find_in_block(block, width, &found, limit),
                )
            })
            .collect();
        let blocks = blocks?;
        let total: usize = blocks.iter().map(|block| block.columns.len()).sum();
        let binary = blocks.iter().all(|block| block.binary);
        let mut starts = Vec::with_capacity(rows + 1);
        let mut columns = Vec::with_capacity(total);
        starts.push(0);
        for block in blocks {
            let offset = columns.len();
            starts.extend(block.ends.into_iter().map(|end| offset + end));
            columns.extend(block.columns);
        }
        let values = (!binary).then(|| {
            let mut values = Vec::with_capacity(total);
            for (r, row) in matrix.chunks(width).enumerate() {
                let entries = &columns[starts[r]..starts[r + 1]];
                values.extend(entries.iter().map(|&c| row[c as usize]));
            }
            values
        });
        Some(SparseRows {
            starts,
            columns,
            values,
            width,
        })
    }

    fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// `self @ weight` for a `[width, outputs]` weight.
    ///
    /// When the outputs are whole [`GATHER_LANES`] pieces, every piece is collected straight into
    /// the output, which is then written once rather than zero-filled first.
    pub(crate) fn matmul(&self, weight: &[f32], outputs: usize) -> Vec<f32> {
        if outputs.is_multiple_of(GATHER_LANES) {
            let pieces = outputs / GATHER_LANES;
            let out: Vec<[f32; GATHER_LANES]> = (0..self.rows() * pieces)
                .into_par_iter()
                .with_min_len(64)
                .map(|k| {
                    let (row, offset) = (k / pieces, k % pieces * GATHER_LANES);
                    simd(
                        #[inline(always)]
                        || self.gather_piece(row, offset, weight, outputs),
                    )
                })
                .collect();
            return out.into_flattened();
        }
        let mut out = vec![0.0; self.rows() * outputs];
        let rows_per_task = (16384 / outputs.max(1)).max(1);
        out.par_chunks_mut(rows_per_task * outputs)
            .enumerate()
            .for_each(|(task, block)| {
                simd(
                    #[inline(always)]
                    || self.gather_rows(task * rows_per_task, block, weight, outputs),
                )
            });
        out
    }

    /// Outputs `offset..offset + GATHER_LANES` of row `row` of `self @ weight`, summed in an
    /// accumulator that stays in vector registers, so a weight row costs loads only.
    #[inline(always)]
    fn gather_piece(
        &self,
        row: usize,
        offset: usize,
        weight: &[f32],
        outputs: usize,
    ) -> [f32; GATHER_LANES] {
        let mut sum = [0.0f32; GATHER_LANES];
        for entry in self.starts[row]..self.starts[row + 1] {
            let at = self.columns[entry] as usize * outputs + offset;
            let w: &[f32; GATHER_LANES] = weight[at..at + GATHER_LANES]
                .try_into()
                .expect("a piece of a weight row");
            match &self.values {
                None => sum.iter_mut().zip(w).for_each(|(s, w)| *s += w),
                Some(values) => {
                    let value = values[entry];
                    sum.iter_mut().zip(w).for_each(|(s, w)| *s += value * w);
                }
            }
        }
        sum
    }

    /// Rows `first..` of `self @ weight` into `block`: whole pieces by
    /// [`gather_piece`](SparseRows::gather_piece), then the last outputs.
    #[inline(always)]
    fn gather_rows(&self, first: usize, block: &mut [f32], weight: &[f32], outputs: usize) {
        for (i, row) in block.chunks_mut(outputs).enumerate() {
            let r = first + i;
            let mut pieces = row.chunks_exact_mut(GATHER_LANES);
            for (p, piece) in pieces.by_ref().enumerate() {
                piece.copy_from_slice(&self.gather_piece(r, p * GATHER_LANES, weight, outputs));
            }
            let rest = pieces.into_remainder();
            let offset = outputs - rest.len();
            for entry in self.starts[r]..self.starts[r + 1] {
                let at = self.columns[entry] as usize * outputs + offset;
                let w = &weight[at..at + rest.len()];
                match &self.values {
                    None => add(rest, w),
                    Some(values) => add_scaled(rest, w, values[entry]),
                }
            }
        }
    }

    /// `self^T @ grad` for a `[rows, outputs]` gradient: the weight gradient `[width, outputs]`.
    ///
    /// Each thread reads its share of `grad` once, in order, and adds each row into the weight
    /// rows of that row's active inputs; the threads' sums are added at the end.
    pub(crate) fn transpose_matmul(&self, grad: &[f32], outputs: usize) -> Vec<f32> {
        let rows = self.rows();
        let tasks = rayon::current_num_threads().min(rows).max(1);
        let per_task = rows.div_ceil(tasks);
        let mut sums: Vec<Vec<f32>> = (0..tasks)
            .into_par_iter()
            .map(|task| {
                let range = (task * per_task).min(rows)..((task + 1) * per_task).min(rows);
                simd(
                    #[inline(always)]
                    || self.scatter_rows(range, grad, outputs),
                )
            })
            .collect();
        let mut total = sums.swap_remove(0);
        for sum in &sums {
            simd(
                #[inline(always)]
                || add(&mut total, sum),
            );
        }
        total
    }

    /// The weight gradient from rows `range` of `grad`.
    #[inline(always)]
    fn scatter_rows(
        &self,
        range: core::ops::Range<usize>,
        grad: &[f32],
        outputs: usize,
    ) -> Vec<f32> {
        let mut sum = vec![0.0; self.width * outputs];
        for r in range {
            let g = &grad[r * outputs..(r + 1) * outputs];
            for entry in self.starts[r]..self.starts[r + 1] {
                let column = self.columns[entry] as usize;
                let into = &mut sum[column * outputs..(column + 1) * outputs];
                match &self.values {
                    None => add(into, g),
                    Some(values) => add_scaled(into, g, values[entry]),
                }
            }
        }
        sum
    }
}

/// The nonzero entries of a block of rows.
struct BlockEntries {
    /// Where each row's entries end in `columns`.
    ends: Vec<usize>,
    /// The column of each entry.
    columns: Vec<u32>,
    /// Whether every entry is 1.
    binary: bool,
}

/// The nonzero entries of `block` (`rows x width`), or `None` once `found`, the count over all
/// blocks, passes `limit`.
///
/// Each group of eight values becomes a bit mask (one vector compare), whose set bits are
/// written as eight columns at once from a table, of which the first `popcount` are kept: no
/// branch depends on the values, so random sparse spikes cost no mispredictions. This took a
/// third of the time of walking each mask's bits.
#[inline(always)]
fn find_in_block(
    block: &[f32],
    width: usize,
    found: &AtomicUsize,
    limit: usize,
) -> Option<BlockEntries> {
    let masks = Mask8::new();
    let mut ends = Vec::with_capacity(block.len() / width);
    let mut columns = Vec::with_capacity(block.len() / 16);
    let mut other = 0;
    // One row's columns, with room for the eight written past the last one kept.
    let mut row_columns = vec![0u32; width + 8];
    for row in block.chunks(width) {
        let mut count = 0;
        let mut chunks = row.chunks_exact(8);
        for (c, chunk) in chunks.by_ref().enumerate() {
            let chunk: &[f32; 8] = chunk.try_into().expect("chunks of eight");
            let mask = masks.nonzero(chunk);
            other |= mask & masks.not_one(chunk);
            let into: &mut [u32; 8] = (&mut row_columns[count..count + 8])
                .try_into()
                .expect("room for eight");
            masks.columns(mask, (c * 8) as u32, into);
            count += mask.count_ones() as usize;
        }
        let done = row.len() - chunks.remainder().len();
        for (k, &value) in chunks.remainder().iter().enumerate() {
            row_columns[count] = (done + k) as u32;
            count += usize::from(value != 0.0);
            other |= u32::from(value != 0.0 && value != 1.0);
        }
        columns.extend_from_slice(&row_columns[..count]);
        ends.push(columns.len());
        if found.fetch_add(count, Ordering::Relaxed) + count > limit {
            return None;
        }
    }
    Some(BlockEntries {
        ends,
        columns,
        binary: other == 0,
    })
}

/// For each mask of eight bits, the positions of its set bits, in order, then zeros.
static SET_BITS: [[u32; 8]; 256] = {
    let mut table = [[0; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut bit, mut count) = (0, 0);
        while bit < 8 {
            if mask & (1 << bit) != 0 {
                table[mask][count] = bit as u32;
                count += 1;
            }
            bit += 1;
        }
        mask += 1;
    }
    table
};

/// Calls `found(column, value)` for every nonzero of `row`, eight values at a time: a bit mask
/// of the eight (one vector compare where the CPU has AVX2), then its set bits. No branch
/// depends on a single value, so random sparse spikes cost no mispredictions.
#[inline(always)]
fn nonzeros(row: &[f32], mut found: impl FnMut(usize, f32)) {
    let masks = Mask8::new();
    let mut chunks = row.chunks_exact(8);
    for (c, chunk) in chunks.by_ref().enumerate() {
        let chunk: &[f32; 8] = chunk.try_into().expect("chunks of eight");
        let mut mask = masks.nonzero(chunk);
        while mask != 0 {
            let k = mask.trailing_zeros() as usize;
            found(c * 8 + k, chunk[k]);
            mask &= mask - 1;
        }
    }
    let done = row.len() - chunks.remainder().len();
    for (k, &value) in chunks.remainder().iter().enumerate() {
        if value != 0.0 {
            found(done + k, value);
        }
    }
}

/// Which of eight values are nonzero, as the low eight bits of a mask.
#[derive(Clone, Copy)]
struct Mask8 {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<pulp::x86::V3>,
}

impl Mask8 {
    #[inline(always)]
    fn new() -> Self {
        Mask8 {
            #[cfg(target_arch = "x86_64")]
            avx2: pulp::x86::V3::try_new(),
        }
    }

    #[inline(always)]
    fn nonzero(self, chunk: &[f32; 8]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.avx2 {
            let values: pulp::f32x8 = pulp::cast(*chunk);
            let nonzero = simd.cmp_not_eq_f32x8(values, simd.splat_f32x8(0.0));
            return simd.avx._mm256_movemask_ps(pulp::cast(nonzero)) as u32;
        }
        chunk
            .iter()
            .enumerate()
            .fold(0, |mask, (k, &value)| mask | (u32::from(value != 0.0) << k))
    }

    /// Writes `first +` the positions of the set bits of `mask` (eight bits) to the start of
    /// `into`; the rest of `into` gets unspecified columns.
    #[inline(always)]
    fn columns(self, mask: u32, first: u32, into: &mut [u32; 8]) {
        let positions = &SET_BITS[mask as usize];
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.avx2 {
            let first = simd.avx._mm256_set1_epi32(first as i32);
            *into = pulp::cast(simd.avx2._mm256_add_epi32(pulp::cast(*positions), first));
            return;
        }
        for (column, position) in into.iter_mut().zip(positions) {
            *column = first + position;
        }
    }

    /// Which of eight values are not 1, as the low eight bits of a mask.
    #[inline(always)]
    fn not_one(self, chunk: &[f32; 8]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = self.avx2 {
            let values: pulp::f32x8 = pulp::cast(*chunk);
            let other = simd.cmp_not_eq_f32x8(values, simd.splat_f32x8(1.0));
            return simd.avx._mm256_movemask_ps(pulp::cast(other)) as u32;
        }
        chunk
            .iter()
            .enumerate()
            .fold(0, |mask, (k, &value)| mask | (u32::from(value != 1.0) << k))
    }
}

#[inline(always)]
fn add(into: &mut [f32], from: &[f32]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

#[inline(always)]
fn add_scaled(into: &mut [f32], from: &[f32], scale: f32) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += scale * b;
    }
}

#[cfg(test)]
mod tests {
    use super::Panels;

    /// `a @ W^T` one product at a time, in `f64`.
    fn reference(a: &[f32], weight: &[f32], n: usize) -> Vec<f64> {
        a.chunks(n.max(1))
            .flat_map(|row| {
                weight.chunks(n.max(1)).map(move |w| {
                    row.iter()
                        .zip(w)
                        .map(|(&x, &y)| f64::from(x) * f64::from(y))
                        .sum::<f64>()
                })
            })
            .collect()
    }

    #[test]
    fn panel_product_matches_the_transposed_product() {
        // Row counts that leave every tile height as a remainder, and widths that are, and are
        // not, whole panels, on this CPU's vectors and on plain scalars.
        for (rows, n) in [(3, 0), (1, 1), (5, 3), (13, 37), (32, 256), (7, 200)] {
            let value = |k: usize, salt: usize| ((k * 7919 + salt) % 23) as f32 / 11.0 - 1.0;
            let weight: Vec<f32> = (0..n * n).map(|k| value(k, 5)).collect();
            let a: Vec<f32> = (0..rows * n).map(|k| value(k, 17)).collect();
            let expected = reference(&a, &weight, n);
            for scalar in [false, true] {
                let panels = if scalar {
                    Panels::with_simd(&weight, n, pulp::Scalar::new())
                } else {
                    Panels::new(&weight, n)
                };
                let mut out = vec![f32::NAN; rows * n];
                if scalar {
                    panels.product_with(&a, &mut out, pulp::Scalar::new());
                } else {
                    panels.product(&a, &mut out);
                }
                for (k, (&got, &want)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (f64::from(got) - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "rows {rows}, n {n}, scalar {scalar}: entry {k} is {got}, expected {want}"
                    );
                }
            }
        }
    }
}
