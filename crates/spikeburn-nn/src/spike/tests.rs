//! Unit checks of the spike op's settings and plumbing on NdArray. The numerical checks against
//! closed forms run on every backend in the facade's `tests/spike_op.rs`.

use burn::tensor::{Device, Tensor};
use spikeburn_noise::{Family, Noise};

use super::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

#[test]
fn mode_names_round_trip() {
    for name in SpikeMode::NAMES {
        let mode: SpikeMode = name.parse().unwrap();
        assert_eq!(mode.name(), name);
        assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{name}\""));
    }
    assert_eq!(
        "escape".parse::<SpikeMode>().unwrap(),
        SpikeMode::EscapeNoise
    );
}

#[test]
fn unknown_mode_is_named() {
    let message = "stochastic".parse::<SpikeMode>().unwrap_err().to_string();
    assert_eq!(
        message,
        "unknown spike mode `stochastic`, expected one of: deterministic, escape_noise, expected"
    );
}

#[test]
fn firing_json_defaults_to_the_deterministic_density() {
    let firing: Firing =
        serde_json::from_str(r#"{"noise": {"family": "cauchy", "scale": 0.5}}"#).unwrap();
    assert_eq!(
        firing,
        Firing::new(Noise::cauchy(0.5).unwrap(), SpikeMode::Deterministic)
    );

    let tuned = firing.with_scale(SurrogateScale::UnitPeak);
    let json = serde_json::to_string(&tuned).unwrap();
    assert_eq!(serde_json::from_str::<Firing>(&json).unwrap(), tuned);
}

#[test]
fn firing_json_with_a_zero_scale_names_it() {
    let error = serde_json::from_str::<Firing>(r#"{"noise": {"family": "gaussian", "scale": 0}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("noise scale must be positive and finite, got 0"),
        "{error}"
    );
}

#[test]
fn unit_peak_gain_makes_the_surrogate_peak_one() {
    for family in Family::ALL {
        let noise = Noise::new(family, 0.3).unwrap();
        let surrogate = Firing::new(noise, SpikeMode::Deterministic)
            .with_scale(SurrogateScale::UnitPeak)
            .surrogate();
        assert!(
            (surrogate.gain * noise.peak() - 1.0).abs() < 1e-12,
            "{noise}"
        );
    }
}

#[test]
fn shapes_are_kept_and_untracked_devices_work() {
    let noise = Noise::laplace(0.4).unwrap();
    let drive = Tensor::<3>::random([4, 3, 5], burn::tensor::Distribution::Default, &device());
    for mode in [
        SpikeMode::Deterministic,
        SpikeMode::EscapeNoise,
        SpikeMode::Expected,
    ] {
        let spikes = spike(drive.clone() - 0.5, &noise, mode);
        assert_eq!(spikes.dims(), [4, 3, 5], "{mode}");
    }
}

#[test]
#[should_panic(expected = "the noise sample must have the shape of the drive")]
fn noise_of_another_shape_is_refused() {
    let firing = Firing::new(Noise::logistic(1.0).unwrap(), SpikeMode::EscapeNoise);
    let drive = Tensor::<1>::zeros([3], &device());
    let noise = Tensor::<1>::zeros([4], &device());
    let _ = firing.fire_with_noise(drive, noise);
}

#[test]
fn sampling_noise_drives_the_forward_and_the_surrogate_stays() {
    let surrogate = Noise::logistic(0.25).unwrap();
    let sampling = Noise::uniform(0.5).unwrap();
    let firing = Firing::new(surrogate, SpikeMode::EscapeNoise).with_sampling(sampling);
    assert_eq!(firing.forward_noise(), sampling);
    assert_eq!(
        Firing::new(surrogate, SpikeMode::EscapeNoise)
            .with_sampling(surrogate)
            .sampling,
        None
    );

    let device = device().autodiff();
    device.seed(5);
    let n = 100_000;
    let drive = Tensor::<1>::full([n], 0.4, &device).require_grad();
    let spikes = firing.fire(drive.clone());
    let rate = spikes.clone().mean().into_scalar::<f32>() as f64;
    // Uniform noise on [-0.5, 0.5] fires with F(0.4) = 0.9; logistic noise would give 0.83.
    let error = (0.9_f64 * 0.1 / n as f64).sqrt();
    assert!((rate - 0.9).abs() < 4.0 * error, "rate {rate}");

    let gradient = drive.grad(&spikes.sum().backward()).unwrap();
    let gradient = gradient.into_data().try_into_vec::<f32>().unwrap();
    let density = surrogate.pdf(0.4);
    assert!(
        (gradient[0] as f64 - density).abs() < 1e-6,
        "{} vs {density}",
        gradient[0]
    );
}
