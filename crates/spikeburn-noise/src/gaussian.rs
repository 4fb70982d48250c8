//! The standard normal quantile, which has no closed form.

use core::f64::consts::{PI, SQRT_2};

/// The standard normal quantile `Φ⁻¹(u)`, accurate to a few ulps on `(0, 1)`.
///
/// P. J. Acklam's rational approximation (relative error below 1.2e-9) followed by one Halley
/// step on `Φ(x) - u`, with `Φ` computed from `erfc` so the lower tail keeps its precision. The
/// upper half is mirrored onto the lower one, where `u` has more significant digits.
pub(crate) fn standard_normal_quantile(u: f64) -> f64 {
    if u == 0.0 {
        return f64::NEG_INFINITY;
    }
    if u == 1.0 {
        return f64::INFINITY;
    }
    if u > 0.5 {
        return -standard_normal_quantile(1.0 - u);
    }

    let x = acklam(u);

    // Halley: x <- x - e / (1 + x e / 2), e = (Φ(x) - u) / φ(x).
    let error = 0.5 * libm::erfc(-x / SQRT_2) - u;
    let step = error * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
    x - step / (1.0 + 0.5 * x * step)
}

/// Acklam's approximation for `u` in `(0, 0.5]`.
fn acklam(u: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    const TAIL: f64 = 0.02425;

    if u < TAIL {
        let q = (-2.0 * u.ln()).sqrt();
        let numerator = ((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5];
        let denominator = (((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0;
        numerator / denominator
    } else {
        let q = u - 0.5;
        let r = q * q;
        let numerator = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q;
        let denominator = ((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0;
        numerator / denominator
    }
}
