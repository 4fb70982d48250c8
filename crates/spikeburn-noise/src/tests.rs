//! Checks of THEORY.md section 1 for every family, against closed forms, finite differences,
//! quadrature and sampling.

use core::f64::consts::{FRAC_PI_2, PI};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

const SCALES: [f64; 3] = [0.1, 1.0, 3.0];

/// Points, in units of the scale, away from the kinks at 0 and at the support's edges, and
/// inside the support of the bounded families.
fn unit_grid(family: Family) -> Vec<f64> {
    let mut grid = vec![-0.93, -0.61, -0.27, 0.13, 0.48, 0.86];
    if family.unit_support().is_none() {
        grid.extend([-4.1, -2.3, 1.7, 3.6]);
    }
    grid
}

fn all_noises() -> impl Iterator<Item = Noise> {
    Family::ALL.into_iter().flat_map(|family| {
        SCALES
            .into_iter()
            .map(move |scale| Noise::new(family, scale).unwrap())
    })
}

/// Adaptive Simpson quadrature of `f` on `[a, b]` to absolute tolerance `tolerance`.
fn adaptive_simpson(f: &dyn Fn(f64) -> f64, a: f64, b: f64, tolerance: f64) -> f64 {
    fn simpson(fa: f64, fm: f64, fb: f64, a: f64, b: f64) -> f64 {
        (b - a) / 6.0 * (fa + 4.0 * fm + fb)
    }

    #[allow(clippy::too_many_arguments)]
    fn refine(
        f: &dyn Fn(f64) -> f64,
        (a, fa): (f64, f64),
        (m, fm): (f64, f64),
        (b, fb): (f64, f64),
        whole: f64,
        tolerance: f64,
        depth: u32,
    ) -> f64 {
        let (left_mid, right_mid) = (0.5 * (a + m), 0.5 * (m + b));
        let (f_left, f_right) = (f(left_mid), f(right_mid));
        let left = simpson(fa, f_left, fm, a, m);
        let right = simpson(fm, f_right, fb, m, b);
        let correction = left + right - whole;
        if depth == 0 || correction.abs() <= 15.0 * tolerance {
            return left + right + correction / 15.0;
        }
        refine(
            f,
            (a, fa),
            (left_mid, f_left),
            (m, fm),
            left,
            tolerance / 2.0,
            depth - 1,
        ) + refine(
            f,
            (m, fm),
            (right_mid, f_right),
            (b, fb),
            right,
            tolerance / 2.0,
            depth - 1,
        )
    }

    let m = 0.5 * (a + b);
    let (fa, fm, fb) = (f(a), f(m), f(b));
    let whole = simpson(fa, fm, fb, a, b);
    refine(f, (a, fa), (m, fm), (b, fb), whole, tolerance, 48)
}

#[test]
fn density_integrates_to_one() {
    for noise in all_noises() {
        let scale = noise.scale();
        // x = scale tan(theta) maps the line onto (-pi/2, pi/2), so heavy tails become a bounded
        // integrand; the last 1e-9 radians hold under 1e-9 of the mass for every family.
        let integrand = |theta: f64| {
            let cos = theta.cos();
            noise.pdf(scale * theta.tan()) * scale / (cos * cos)
        };
        let edge = FRAC_PI_2 - 1e-9;
        let mut breaks = vec![-edge, 0.0, edge];
        if noise.support().is_some() {
            breaks.extend([-PI / 4.0, PI / 4.0]);
        }
        breaks.sort_by(f64::total_cmp);

        let mass: f64 = breaks
            .windows(2)
            .map(|pair| adaptive_simpson(&integrand, pair[0], pair[1], 1e-11))
            .sum();
        assert!(
            (mass - 1.0).abs() < 1e-6,
            "{noise}: density integrates to {mass}"
        );
    }
}

#[test]
fn cdf_derivative_is_pdf() {
    for noise in all_noises() {
        let h = 1e-4 * noise.scale();
        for x in unit_grid(noise.family())
            .into_iter()
            .map(|z| z * noise.scale())
        {
            let central = (noise.cdf(x + h) - noise.cdf(x - h)) / (2.0 * h);
            let pdf = noise.pdf(x);
            assert!(
                (central - pdf).abs() <= 1e-6 * pdf,
                "{noise} at {x}: dF/dx = {central}, p = {pdf}"
            );
        }
    }
}

#[test]
fn score_is_minus_log_density_slope() {
    for noise in all_noises() {
        let h = 1e-5 * noise.scale();
        for x in unit_grid(noise.family())
            .into_iter()
            .map(|z| z * noise.scale())
        {
            let slope = (noise.pdf(x + h).ln() - noise.pdf(x - h).ln()) / (2.0 * h);
            match noise.score(x) {
                Some(score) => assert!(
                    (score + slope).abs() <= 1e-6 * score.abs().max(1.0 / noise.scale()),
                    "{noise} at {x}: score {score}, -d log p / dx = {}",
                    -slope
                ),
                None => assert_eq!(noise.family(), Family::Uniform, "{noise} at {x}"),
            }
        }
    }
}

#[test]
fn score_is_undefined_only_where_the_density_is_flat_or_zero() {
    let uniform = Noise::uniform(1.0).unwrap();
    assert_eq!(uniform.score(0.3), None);
    let triangular = Noise::triangular(1.0).unwrap();
    assert_eq!(triangular.score(1.5), None);
    assert_eq!(triangular.score(0.5), Some(2.0));
}

#[test]
fn quantile_inverts_cdf() {
    for noise in all_noises() {
        for x in unit_grid(noise.family())
            .into_iter()
            .map(|z| z * noise.scale())
        {
            let back = noise.quantile(noise.cdf(x));
            assert!(
                (back - x).abs() <= 1e-9 * noise.scale().max(x.abs()),
                "{noise}: quantile(cdf({x})) = {back}"
            );
        }
        for u in [1e-9, 0.013, 0.3, 0.5, 0.77, 0.999] {
            let back = noise.cdf(noise.quantile(u));
            assert!(
                (back - u).abs() <= 1e-12,
                "{noise}: cdf(quantile({u})) = {back}"
            );
        }
    }
}

#[test]
fn gaussian_quantile_matches_known_values() {
    let standard = Noise::gaussian(1.0).unwrap();
    // Φ⁻¹(0.975) and Φ⁻¹(1e-10), from tables of the normal distribution.
    assert!((standard.quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
    assert!((standard.quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-9);
    assert_eq!(standard.quantile(0.5), 0.0);
}

#[test]
fn samples_pass_kolmogorov_smirnov_at_one_in_a_thousand() {
    let n = 100_000;
    // Asymptotic critical value of the one-sample KS statistic at alpha = 0.001.
    let critical = (-(0.0005f64).ln() / 2.0).sqrt() / (n as f64).sqrt();

    for (index, family) in Family::ALL.into_iter().enumerate() {
        let noise = Noise::new(family, 0.7).unwrap();
        let mut rng = StdRng::seed_from_u64(1000 + index as u64);
        let mut samples = vec![0.0; n];
        noise.sample_into(&mut rng, &mut samples);
        samples.sort_by(f64::total_cmp);

        let distance = samples
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = noise.cdf(x);
                (f - i as f64 / n as f64).max((i + 1) as f64 / n as f64 - f)
            })
            .fold(0.0, f64::max);
        assert!(
            distance < critical,
            "{noise}: KS distance {distance} >= {critical}"
        );
    }
}

#[test]
fn escape_noise_fires_with_probability_cdf() {
    let n = 100_000;
    for (index, family) in Family::ALL.into_iter().enumerate() {
        let noise = Noise::new(family, 0.4).unwrap();
        let mut rng = StdRng::seed_from_u64(2000 + index as u64);
        for x in [-0.5, -0.15, 0.0, 0.1, 0.35] {
            let fired = (0..n).filter(|_| x + noise.sample(&mut rng) >= 0.0).count();
            let rate = fired as f64 / n as f64;
            let expected = noise.cdf(x);
            let standard_error = (expected * (1.0 - expected) / n as f64).sqrt();
            assert!(
                (rate - expected).abs() <= 3.0 * standard_error,
                "{noise} at {x}: rate {rate}, F = {expected} (se {standard_error})"
            );
        }
    }
}

#[test]
fn peak_constructor_sets_the_density_at_zero() {
    for family in Family::ALL {
        let noise = Noise::with_peak(family, 2.5).unwrap();
        assert!((noise.pdf(0.0) - 2.5).abs() < 1e-12, "{noise}");
        assert!((noise.peak() - 2.5).abs() < 1e-12, "{noise}");
        assert!((noise.unit_peak_gain() * noise.pdf(0.0) - 1.0).abs() < 1e-12);
    }
}

/// Each library's surrogate derivative, written as the library documents it.
#[test]
fn library_constructors_reproduce_library_surrogates() {
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    type Case = (&'static str, Noise, f64, Box<dyn Fn(f64) -> f64>);
    let cases: Vec<Case> = vec![
        (
            "snntorch atan(2)",
            Noise::snntorch_atan(2.0).unwrap(),
            1.0,
            Box::new(|x| (2.0 / 2.0) / (1.0 + (PI / 2.0 * 2.0 * x).powi(2))),
        ),
        (
            "snntorch sigmoid(25)",
            Noise::snntorch_sigmoid(25.0).unwrap(),
            1.0,
            Box::new(move |x| 25.0 * sigmoid(25.0 * x) * (1.0 - sigmoid(25.0 * x))),
        ),
        (
            "snntorch fast_sigmoid(25)",
            Noise::snntorch_fast_sigmoid(25.0).unwrap(),
            Noise::snntorch_fast_sigmoid(25.0)
                .unwrap()
                .snntorch_fast_sigmoid_gain(),
            Box::new(|x: f64| 1.0 / (25.0 * x.abs() + 1.0).powi(2)),
        ),
        (
            "spikingjelly Sigmoid(4)",
            Noise::spikingjelly_sigmoid(4.0).unwrap(),
            1.0,
            Box::new(move |x| 4.0 * sigmoid(4.0 * x) * (1.0 - sigmoid(4.0 * x))),
        ),
        (
            "spikingjelly ATan(2)",
            Noise::spikingjelly_atan(2.0).unwrap(),
            1.0,
            Box::new(|x| 2.0 / 2.0 / (1.0 + (PI / 2.0 * 2.0 * x).powi(2))),
        ),
        (
            "spikingjelly Erf(2)",
            Noise::spikingjelly_erf(2.0).unwrap(),
            1.0,
            Box::new(|x: f64| 2.0 / PI.sqrt() * (-(2.0 * x).powi(2)).exp()),
        ),
        (
            "spikingjelly PiecewiseExp(1)",
            Noise::spikingjelly_piecewise_exp(1.0).unwrap(),
            1.0,
            Box::new(|x: f64| 1.0 / 2.0 * (-x.abs()).exp()),
        ),
        (
            "spikingjelly Rect(1)",
            Noise::spikingjelly_rect(1.0).unwrap(),
            1.0,
            Box::new(|x: f64| if x.abs() < 0.5 { 1.0 } else { 0.0 }),
        ),
        (
            "spikingjelly PiecewiseQuadratic(1)",
            Noise::spikingjelly_piecewise_quadratic(1.0).unwrap(),
            1.0,
            Box::new(|x: f64| if x.abs() <= 1.0 { 1.0 - x.abs() } else { 0.0 }),
        ),
        (
            "spikingjelly SoftSign(2)",
            Noise::spikingjelly_soft_sign(2.0).unwrap(),
            1.0,
            Box::new(|x: f64| 2.0 / (2.0 * (1.0 + (2.0 * x).abs()).powi(2))),
        ),
    ];

    let grid = [-1.7, -0.62, -0.3, -0.07, 0.0, 0.04, 0.21, 0.45, 0.9, 2.2];
    for (name, noise, gain, library) in cases {
        for x in grid {
            let ours = gain * noise.pdf(x);
            let theirs = library(x);
            assert!(
                (ours - theirs).abs() <= 1e-12 * theirs.max(1.0),
                "{name} at {x}: {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn json_round_trips() {
    for noise in all_noises() {
        let json = serde_json::to_string(&noise).unwrap();
        let back: Noise = serde_json::from_str(&json).unwrap();
        assert_eq!(back, noise);
    }
    let noise: Noise = serde_json::from_str(r#"{"family": "student_t2", "scale": 0.5}"#).unwrap();
    assert_eq!(noise, Noise::student_t2(0.5).unwrap());
}

#[test]
fn unknown_family_in_json_is_named() {
    let error = serde_json::from_str::<Noise>(r#"{"family": "gumbel", "scale": 1.0}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `gumbel`"), "{error}");
    assert!(error.contains("fast_sigmoid"), "{error}");
}

#[test]
fn bad_scales_are_named() {
    for scale in [0.0, -1.5, f64::NAN, f64::INFINITY] {
        let error = Noise::new(Family::Logistic, scale).unwrap_err();
        assert!(matches!(error, NoiseError::InvalidScale(_)), "{error:?}");
        assert!(
            error.to_string().contains(&format!("got {scale}")),
            "{error}"
        );
    }
    let error = serde_json::from_str::<Noise>(r#"{"family": "laplace", "scale": 0}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("noise scale must be positive and finite, got 0"),
        "{error}"
    );

    let error = Noise::snntorch_atan(-2.0).unwrap_err().to_string();
    assert_eq!(error, "alpha must be positive and finite, got -2");
    let error = Noise::with_peak(Family::Cauchy, 0.0)
        .unwrap_err()
        .to_string();
    assert_eq!(error, "peak height must be positive and finite, got 0");
}

#[test]
fn command_line_form_parses() {
    let noise: Noise = "logistic:0.1".parse().unwrap();
    assert_eq!(noise, Noise::logistic(0.1).unwrap());
    assert_eq!(noise.to_string(), "logistic:0.1");

    let error = "gumbel:1".parse::<Noise>().unwrap_err().to_string();
    assert!(
        error.starts_with("unknown noise family `gumbel`"),
        "{error}"
    );
    let error = "logistic".parse::<Noise>().unwrap_err().to_string();
    assert!(error.contains("`logistic`"), "{error}");
    let error = "logistic:zero".parse::<Noise>().unwrap_err().to_string();
    assert!(error.contains("`logistic:zero`"), "{error}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Noise>();
    assert_send_sync::<NoiseError>();
}
