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
