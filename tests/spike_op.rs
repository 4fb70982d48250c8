//! The spike op on every compiled-in backend, against closed forms, the plain-tensor reference
//! and the other backends (THEORY.md claims C1-C2 for the op; the foundation issue's
//! acceptance list).
//!
//! Each check is a function of a device; `backend_suite!` instantiates all of them once per
//! backend. A backend that cannot start (e.g. wgpu with no adapter) fails its tests.

use std::sync::Mutex;

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::nn::noise::sample_noise;
use spikeburn::nn::spike::reference;
use spikeburn::{Family, Firing, Noise, SpikeMode, SurrogateScale};

/// Relative tolerance for f32 results against f64 closed forms: a few hundred ulps, enough for
/// the exp, powf and division chains of the densities.
const F32_RELATIVE: f64 = 1e-5;

/// Tests that draw from a device's random generator hold this lock after seeding it, so that
/// their draws, and hence their outcomes, do not depend on how the harness schedules threads.
static RANDOM: Mutex<()> = Mutex::new(());

/// Noise scales in use: a narrow, a unit and a wide one.
const SCALES: [f64; 3] = [0.2, 1.0, 2.5];

/// Drives, in units of the scale, that avoid the kinks of the Laplace, uniform, triangular and
/// fast-sigmoid densities (0 and the support's edges), where a one-sided derivative is taken.
const SMOOTH_GRID: [f64; 10] = [-3.4, -1.7, -0.93, -0.55, -0.21, 0.08, 0.37, 0.74, 1.3, 2.9];

fn noises() -> Vec<Noise> {
    Family::ALL
        .into_iter()
        .flat_map(|family| SCALES.map(|scale| Noise::new(family, scale).unwrap()))
        .collect()
}

/// Far-tail drives, in units of the scale, where `1 - F` is small enough that a density computed
/// as `F (1 - F)` would lose digits.
const TAILS: [f64; 2] = [-4.6, 5.2];

/// The drives of `SMOOTH_GRID` and `TAILS` at `noise`'s scale, and zero. Closed forms are
/// evaluated at the f64 widening of these f32 values, exactly the points the backend saw.
fn drives(noise: &Noise) -> Vec<f32> {
    let mut drives: Vec<f32> = SMOOTH_GRID
        .iter()
        .chain(&TAILS)
        .map(|z| (z * noise.scale()) as f32)
        .collect();
    drives.push(0.0);
    drives
}

fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_into_vec::<f32>().unwrap()
}

/// The spikes and the gradient of their sum with respect to the drive.
fn fire_and_differentiate(
    firing: &Firing,
    drive: &[f32],
    noise: Option<&[f32]>,
    device: &Device,
    reference_op: bool,
) -> (Vec<f32>, Vec<f32>) {
    let device = device.clone().autodiff();
    let x = Tensor::<1>::from_floats(drive, &device).require_grad();
    let noise = noise.map(|noise| Tensor::<1>::from_floats(noise, &device));

    let spikes = match (reference_op, noise) {
        (true, noise) => reference::fire(firing, x.clone(), noise),
        (false, Some(noise)) => firing.fire_with_noise(x.clone(), noise),
        (false, None) => firing.fire(x.clone()),
    };
    let gradient = x.grad(&spikes.clone().sum().backward()).unwrap();

    (to_vec(spikes), to_vec(gradient))
}

fn assert_relative(got: f32, want: f64, tolerance: f64, context: &str) {
    let error = (got as f64 - want).abs();
    assert!(
        error <= tolerance * want.abs(),
        "{context}: got {got}, want {want} (relative error {:.2e} > {tolerance:.0e})",
        error / want.abs().max(f64::MIN_POSITIVE)
    );
}

/// Deterministic and escape-noise spikes are exactly 0 or 1; deterministic ones are `H(x)`.
pub fn forward_is_exactly_zero_or_one(device: &Device) {
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(11);
    for noise in noises() {
        let drive = drives(&noise);
        for mode in [SpikeMode::Deterministic, SpikeMode::EscapeNoise] {
            let (spikes, _) =
                fire_and_differentiate(&Firing::new(noise, mode), &drive, None, device, false);
            assert!(
                spikes.iter().all(|&s| s == 0.0 || s == 1.0),
                "{noise} {mode}: {spikes:?}"
            );
            if mode == SpikeMode::Deterministic {
                let heaviside: Vec<f32> = drive
                    .iter()
                    .map(|&x| if x >= 0.0 { 1.0 } else { 0.0 })
                    .collect();
                assert_eq!(spikes, heaviside, "{noise}");
            }
        }
    }
}

/// The gradient is `noise.pdf(x)` at every drive, in both Heaviside modes, and 0 outside a
/// bounded support.
pub fn gradient_is_the_density(device: &Device) {
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(12);
    for noise in noises() {
        let drive = drives(&noise);
        let mut out_of_support = drive.clone();
        if let Some(half_width) = noise.support() {
            out_of_support.extend([-1.5 * half_width as f32, 1.2 * half_width as f32]);
        }
        for mode in [SpikeMode::Deterministic, SpikeMode::EscapeNoise] {
            let firing = Firing::new(noise, mode);
            let (_, gradient) =
                fire_and_differentiate(&firing, &out_of_support, None, device, false);
            for (&x, &g) in out_of_support.iter().zip(&gradient) {
                let density = noise.pdf(x as f64);
                if density == 0.0 {
                    assert_eq!(
                        g, 0.0,
                        "{noise} {mode}: gradient at {x} outside the support"
                    );
                } else {
                    assert_relative(g, density, F32_RELATIVE, &format!("{noise} {mode} at {x}"));
                }
            }
        }
    }
}

/// Spikes and gradients equal those of the plain-tensor reference, in every mode and scale.
pub fn gradient_matches_the_reference(device: &Device) {
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(13);
    for noise in noises() {
        // The reference differentiates |x| as 0 at 0, so it is compared away from the kinks.
        let drive: Vec<f32> = SMOOTH_GRID
            .iter()
            .map(|z| (z * noise.scale()) as f32)
            .collect();
        let sample = to_vec(sample_noise::<1>(&noise, [drive.len()], device));
        for scale in [SurrogateScale::Density, SurrogateScale::UnitPeak] {
            for mode in [
                SpikeMode::Deterministic,
                SpikeMode::EscapeNoise,
                SpikeMode::Expected,
            ] {
                let firing = Firing::new(noise, mode).with_scale(scale);
                let noise_sample = (mode == SpikeMode::EscapeNoise).then_some(sample.as_slice());
                let (spikes, gradient) =
                    fire_and_differentiate(&firing, &drive, noise_sample, device, false);
                let (reference_spikes, reference_gradient) =
                    fire_and_differentiate(&firing, &drive, noise_sample, device, true);

                let context = format!("{noise} {mode} {scale:?}");
                if mode == SpikeMode::Expected {
                    for (&got, &want) in spikes.iter().zip(&reference_spikes) {
                        assert_relative(got, want as f64, F32_RELATIVE, &context);
                    }
                } else {
                    assert_eq!(spikes, reference_spikes, "{context}");
                }
                for ((&x, &got), &want) in drive.iter().zip(&gradient).zip(&reference_gradient) {
                    if want == 0.0 {
                        assert_eq!(got, 0.0, "{context} at {x}");
                    } else {
                        assert_relative(
                            got,
                            want as f64,
                            F32_RELATIVE,
                            &format!("{context} at {x}"),
                        );
                    }
                }
            }
        }
    }
}

/// Escape noise changes the spikes but not the gradient: the density is taken at the
/// noise-free drive.
pub fn escape_noise_uses_the_noise_free_drive(device: &Device) {
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(14);
    for noise in noises() {
        let drive = drives(&noise);
        let deterministic = Firing::new(noise, SpikeMode::Deterministic);
        let escape = Firing::new(noise, SpikeMode::EscapeNoise);
        let (_, expected) = fire_and_differentiate(&deterministic, &drive, None, device, false);
        // A noise sample large enough to flip every spike must leave the gradient unchanged.
        let flips: Vec<f32> = drive
            .iter()
            .map(|&x| if x >= 0.0 { -1e3 } else { 1e3 })
            .collect();
        let (spikes, gradient) =
            fire_and_differentiate(&escape, &drive, Some(&flips), device, false);
        let flipped: Vec<f32> = drive
            .iter()
            .map(|&x| if x >= 0.0 { 0.0 } else { 1.0 })
            .collect();
        assert_eq!(spikes, flipped, "{noise}");
        assert_eq!(gradient, expected, "{noise}: explicit noise");

        let (_, gradient) = fire_and_differentiate(&escape, &drive, None, device, false);
        assert_eq!(gradient, expected, "{noise}: sampled noise");
    }
}

/// Over 100 000 elements the escape-noise firing rate is `F(x)` within 3 standard errors.
pub fn escape_noise_fires_with_probability_cdf(device: &Device) {
    const ELEMENTS: usize = 100_000;
    let _lock = RANDOM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(15);
    for family in Family::ALL {
        let noise = Noise::new(family, 0.5).unwrap();
        for z in [-1.6, -0.7, -0.2, 0.0, 0.45, 1.1] {
            let x = (z * noise.scale()) as f32;
            let firing = Firing::new(noise, SpikeMode::EscapeNoise);
            let drive = Tensor::<1>::full([ELEMENTS], x, device);
            let rate = to_vec(firing.fire(drive).mean())[0] as f64;

            let probability = noise.cdf(x as f64);
            let standard_error = (probability * (1.0 - probability) / ELEMENTS as f64).sqrt();
            assert!(
                (rate - probability).abs() <= 3.0 * standard_error,
                "{noise} at {x}: rate {rate}, F = {probability}, 3 SE = {:.2e}",
                3.0 * standard_error
            );
        }
    }
}

/// The expected mode's forward is `F(x)` and its gradient `p(x)`.
pub fn expected_mode_is_the_cdf_with_its_density(device: &Device) {
    for noise in noises() {
        let drive: Vec<f32> = SMOOTH_GRID
            .iter()
            .map(|z| (z * noise.scale()) as f32)
            .collect();
        let firing = Firing::new(noise, SpikeMode::Expected);
        let (probabilities, gradient) =
            fire_and_differentiate(&firing, &drive, None, device, false);
        for ((&x, &f), &g) in drive.iter().zip(&probabilities).zip(&gradient) {
            let x = x as f64;
            assert!(
                (f as f64 - noise.cdf(x)).abs() < 1e-6,
                "{noise}: F({x}) = {f}"
            );
            let density = noise.pdf(x);
            if density == 0.0 {
                assert_eq!(g, 0.0, "{noise} at {x}");
            } else {
                assert_relative(g, density, F32_RELATIVE, &format!("{noise} at {x}"));
            }
        }
    }
}

/// The unit-peak scale turns the fast-sigmoid density into snnTorch's `fast_sigmoid` surrogate.
pub fn unit_peak_scale_reproduces_snntorch_fast_sigmoid(device: &Device) {
    for slope in [5.0, 25.0] {
        let noise = Noise::snntorch_fast_sigmoid(slope).unwrap();
        let firing =
            Firing::new(noise, SpikeMode::Deterministic).with_scale(SurrogateScale::UnitPeak);
        let drive = [-0.4f32, -0.05, 0.0, 0.02, 0.3];
        let (_, gradient) = fire_and_differentiate(&firing, &drive, None, device, false);
        for (&x, &g) in drive.iter().zip(&gradient) {
            // snnTorch: grad = 1 / (slope |x| + 1)^2.
            let snntorch = 1.0 / (slope * (x as f64).abs() + 1.0).powi(2);
            assert_relative(g, snntorch, F32_RELATIVE, &format!("slope {slope} at {x}"));
        }
    }
}

/// The forward and backward of `device` next to those of the first compiled-in backend, with
/// one noise sample made on the host so that every backend sees the same numbers.
pub fn agrees_with_the_first_backend(device: &Device) {
    let first = spikeburn::device(spikeburn::backend::COMPILED[0]).unwrap();
    let mut rng = StdRng::seed_from_u64(16);
    for noise in noises() {
        let drive = drives(&noise);
        let sample: Vec<f32> = drive
            .iter()
            .map(|_| noise.sample(&mut rng) as f32)
            .collect();
        for mode in [
            SpikeMode::Deterministic,
            SpikeMode::EscapeNoise,
            SpikeMode::Expected,
        ] {
            let firing = Firing::new(noise, mode);
            let sample = (mode == SpikeMode::EscapeNoise).then_some(sample.as_slice());
            let here = fire_and_differentiate(&firing, &drive, sample, device, false);
            let there = fire_and_differentiate(&firing, &drive, sample, &first, false);
            let pairs = here
                .0
                .iter()
                .zip(&there.0)
                .chain(here.1.iter().zip(&there.1));
            for (&a, &b) in pairs {
                let scale = (a.abs().max(b.abs()) as f64).max(1.0);
                assert!(
                    ((a - b) as f64).abs() <= 1e-5 * scale,
                    "{noise} {mode}: {a} here, {b} on {}",
                    spikeburn::backend::COMPILED[0]
                );
            }
        }
    }
}

/// One module of tests per backend, each calling the checks above on that backend's device.
macro_rules! backend_suite {
    ($backend:ident, $feature:literal) => {
        #[cfg(feature = $feature)]
        mod $backend {
            fn device() -> burn::tensor::Device {
                spikeburn::device(stringify!($backend)).unwrap()
            }

            backend_suite!(@tests
                forward_is_exactly_zero_or_one,
                gradient_is_the_density,
                gradient_matches_the_reference,
                escape_noise_uses_the_noise_free_drive,
                escape_noise_fires_with_probability_cdf,
                expected_mode_is_the_cdf_with_its_density,
                unit_peak_scale_reproduces_snntorch_fast_sigmoid,
                agrees_with_the_first_backend,
            );
        }
    };
    (@tests $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                super::$check(&device());
            }
        )*
    };
}

backend_suite!(ndarray, "ndarray");
backend_suite!(flex, "flex");
backend_suite!(wgpu, "wgpu");
