//! Estimators of the causal effect of one spike from observations: instrumental variables,
//! backdoor adjustment and regression discontinuity (THEORY.md section 3; Lansdell and Kording
//! 2023). [`NodeObservations`] collects the columns they need from a simulated network.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::CausalError;
use crate::estimators::parent_row;
use crate::network::{Network, NodeId};
use crate::stats::LeastSquares;

/// An estimated effect of a treatment (a spike) on an outcome (the loss).
#[derive(Debug, Clone, PartialEq)]
pub struct EffectEstimate {
    estimate: f64,
    std_error: f64,
    samples: usize,
    forward_passes: usize,
}

impl EffectEstimate {
    /// The estimated effect.
    pub fn estimate(&self) -> f64 {
        self.estimate
    }

    /// Its standard error (large-sample; homoskedastic for the regressions).
    pub fn std_error(&self) -> f64 {
        self.std_error
    }

    /// The observations used (those inside the window, for regression discontinuity).
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The forward passes behind the observations used: one per observation.
    pub fn forward_passes(&self) -> usize {
        self.forward_passes
    }

    fn new(estimate: f64, std_error: f64, samples: usize) -> Self {
        EffectEstimate {
            estimate,
            std_error,
            samples,
            forward_passes: samples,
        }
    }
}

fn check_lengths(expected: usize, columns: &[(&str, usize)]) -> Result<(), CausalError> {
    if expected < 3 {
        let (name, range) = ("samples", "at least 3");
        let value = expected as f64;
        return Err(CausalError::InvalidParameter {
            name,
            expected: range,
            value,
        });
    }
    for &(name, found) in columns {
        if found != expected {
            let name = name.to_string();
            return Err(CausalError::LengthMismatch {
                name,
                expected,
                found,
            });
        }
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let n = a.len() as f64;
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

/// The Wald estimator `Cov(outcome, instrument) / Cov(treatment, instrument)`, with the
/// large-sample (heteroskedasticity-robust) standard error.
pub fn wald(
    outcome: &[f64],
    treatment: &[f64],
    instrument: &[f64],
) -> Result<EffectEstimate, CausalError> {
    let n = outcome.len();
    check_lengths(
        n,
        &[
            ("treatment", treatment.len()),
            ("instrument", instrument.len()),
        ],
    )?;
    let first_stage = covariance(treatment, instrument);
    let scale = (covariance(treatment, treatment) * covariance(instrument, instrument)).sqrt();
    if first_stage.abs() <= 1e-12 * scale || first_stage == 0.0 {
        return Err(CausalError::WeakInstrument {
            covariance: first_stage,
        });
    }
    let effect = covariance(outcome, instrument) / first_stage;

    let (my, ms, mz) = (mean(outcome), mean(treatment), mean(instrument));
    let spread: f64 = (0..n)
        .map(|i| {
            let residual = outcome[i] - my - effect * (treatment[i] - ms);
            ((instrument[i] - mz) * residual).powi(2)
        })
        .sum::<f64>()
        / n as f64;
    let std_error = (spread / n as f64).sqrt() / first_stage.abs();
    Ok(EffectEstimate::new(effect, std_error, n))
}

/// Two-stage least squares: regress the treatment on `[1, instruments, covariates]`, then the
/// outcome on `[1, fitted treatment, covariates]`; the effect is the fitted treatment's
/// coefficient. Columns are given column by column.
pub fn two_stage_least_squares(
    outcome: &[f64],
    treatment: &[f64],
    instruments: &[Vec<f64>],
    covariates: &[Vec<f64>],
) -> Result<EffectEstimate, CausalError> {
    let n = outcome.len();
    let mut lengths = vec![("treatment", treatment.len())];
    lengths.extend(instruments.iter().map(|z| ("instruments", z.len())));
    lengths.extend(covariates.iter().map(|x| ("covariates", x.len())));
    check_lengths(n, &lengths)?;
    if instruments.is_empty() {
        return Err(CausalError::WeakInstrument { covariance: 0.0 });
    }

    let row = |i: usize, first: &[&[f64]]| -> Vec<f64> {
        let mut row = vec![1.0];
        row.extend(first.iter().map(|column| column[i]));
        row.extend(covariates.iter().map(|column| column[i]));
        row
    };
    let instrument_columns: Vec<&[f64]> = instruments.iter().map(Vec::as_slice).collect();
    let first_rows: Vec<Vec<f64>> = (0..n).map(|i| row(i, &instrument_columns)).collect();
    let first = LeastSquares::fit("first-stage", &first_rows, treatment, 0.0)?;
    let fitted: Vec<f64> = first_rows.iter().map(|r| first.predict(r)).collect();

    let second_rows: Vec<Vec<f64>> = (0..n).map(|i| row(i, &[&fitted])).collect();
    let second = LeastSquares::fit("second-stage", &second_rows, outcome, 0.0).map_err(|_| {
        CausalError::WeakInstrument {
            covariance: covariance(treatment, &fitted),
        }
    })?;
    // Residuals use the actual treatment, not the fitted one.
    let residuals: Vec<f64> = (0..n)
        .map(|i| outcome[i] - second.predict(&row(i, &[treatment])))
        .collect();
    let effect = second.coefficients[1];
    Ok(EffectEstimate::new(
        effect,
        second.std_error(1, &residuals),
        n,
    ))
}

/// Backdoor adjustment by regression: the treatment's coefficient in
/// `outcome ~ 1 + treatment + parents`. [`adjust_for_children`](Backdoor::adjust_for_children)
/// wrongly adds the children (descendants of the treatment) as regressors, to demonstrate
/// post-treatment bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backdoor {
    adjust_for_children: bool,
}

impl Backdoor {
    /// Adjusts for the parents only (the valid backdoor set).
    pub fn new() -> Self {
        Backdoor {
            adjust_for_children: false,
        }
    }

    /// Whether to also regress on the children; default `false`. `true` is wrong on purpose.
    pub fn adjust_for_children(mut self, wrong: bool) -> Self {
        self.adjust_for_children = wrong;
        self
    }

    /// Estimates the effect; `parents` and `children` are given column by column.
    pub fn estimate(
        &self,
        outcome: &[f64],
        treatment: &[f64],
        parents: &[Vec<f64>],
        children: &[Vec<f64>],
    ) -> Result<EffectEstimate, CausalError> {
        let n = outcome.len();
        let mut lengths = vec![("treatment", treatment.len())];
        lengths.extend(parents.iter().map(|x| ("parents", x.len())));
        lengths.extend(children.iter().map(|x| ("children", x.len())));
        check_lengths(n, &lengths)?;

        let adjusted: Vec<&Vec<f64>> = if self.adjust_for_children {
            parents.iter().chain(children).collect()
        } else {
            parents.iter().collect()
        };
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut row = vec![1.0, treatment[i]];
                row.extend(adjusted.iter().map(|column| column[i]));
                row
            })
            .collect();
        let fit = LeastSquares::fit("backdoor", &rows, outcome, 0.0)?;
        let residuals: Vec<f64> = rows
            .iter()
            .zip(outcome)
            .map(|(r, y)| y - fit.predict(r))
            .collect();
        Ok(EffectEstimate::new(
            fit.coefficients[1],
            fit.std_error(1, &residuals),
            n,
        ))
    }
}

/// The fit inside a regression-discontinuity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscontinuityFit {
    /// The difference of mean outcomes just above and just below the threshold; bias `O(h)`.
    Constant,
    /// Separate lines on the two sides, the jump between them at the threshold; bias `O(h^2)`.
    #[default]
    LocalLinear,
}

/// Regression discontinuity (Lansdell and Kording): a neuron spikes when its running variable
/// (drive plus noise, relative to threshold) crosses 0, so comparing outcomes just above and
/// just below 0 estimates the spike's effect without confounding from inputs that vary smoothly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionDiscontinuity {
    bandwidth: f64,
    fit: DiscontinuityFit,
}

impl RegressionDiscontinuity {
    /// A window `|running| < bandwidth` with the given fit; `bandwidth` must be positive.
    pub fn new(bandwidth: f64, fit: DiscontinuityFit) -> Result<Self, CausalError> {
        if bandwidth > 0.0 && bandwidth.is_finite() {
            Ok(RegressionDiscontinuity { bandwidth, fit })
        } else {
            let (name, expected) = ("bandwidth", "positive and finite");
            Err(CausalError::InvalidParameter {
                name,
                expected,
                value: bandwidth,
            })
        }
    }

    /// Estimates the jump of `outcome` where `running` crosses 0 (treated: `running > 0`).
    pub fn estimate(
        &self,
        running: &[f64],
        outcome: &[f64],
    ) -> Result<EffectEstimate, CausalError> {
        check_lengths(outcome.len(), &[("running", running.len())])?;
        let h = self.bandwidth;
        let inside: Vec<(f64, f64)> = running
            .iter()
            .zip(outcome)
            .filter(|(r, _)| r.abs() < h)
            .map(|(&r, &y)| (r, y))
            .collect();
        let needed = match self.fit {
            DiscontinuityFit::Constant => 2,
            DiscontinuityFit::LocalLinear => 3,
        };
        let above = inside.iter().filter(|(r, _)| *r > 0.0).count();
        let below = inside.len() - above;
        for (side, found) in [("below", below), ("above", above)] {
            if found < needed {
                return Err(CausalError::EmptyWindow {
                    side,
                    bandwidth: h,
                    found,
                    needed,
                });
            }
        }

        match self.fit {
            DiscontinuityFit::Constant => {
                let split = |treated: bool| -> Vec<f64> {
                    inside
                        .iter()
                        .filter(|(r, _)| (*r > 0.0) == treated)
                        .map(|p| p.1)
                        .collect()
                };
                let (high, low) = (split(true), split(false));
                let effect = mean(&high) - mean(&low);
                let variance = covariance(&high, &high) / high.len() as f64
                    + covariance(&low, &low) / low.len() as f64;
                Ok(EffectEstimate::new(effect, variance.sqrt(), inside.len()))
            }
            DiscontinuityFit::LocalLinear => {
                // y = a + tau D + b r + c D r, D = 1[r > 0]; tau is the jump at r = 0.
                let rows: Vec<Vec<f64>> = inside
                    .iter()
                    .map(|&(r, _)| {
                        let d = f64::from(u8::from(r > 0.0));
                        vec![1.0, d, r, d * r]
                    })
                    .collect();
                let y: Vec<f64> = inside.iter().map(|p| p.1).collect();
                let fit = LeastSquares::fit("local-linear", &rows, &y, 0.0)?;
                let residuals: Vec<f64> = rows
                    .iter()
                    .zip(&y)
                    .map(|(r, y)| y - fit.predict(r))
                    .collect();
                Ok(EffectEstimate::new(
                    fit.coefficients[1],
                    fit.std_error(1, &residuals),
                    inside.len(),
                ))
            }
        }
    }
}

/// Observations of one node over independent simulations: the columns that the effect
/// estimators take.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeObservations {
    node: NodeId,
    spike: Vec<f64>,
    drive: Vec<f64>,
    noise: Vec<f64>,
    score: Option<Vec<f64>>,
    parents: Vec<Vec<f64>>,
    children: Vec<Vec<f64>>,
    loss: Vec<f64>,
    firing_probability: Vec<f64>,
    density: Vec<f64>,
}

impl NodeObservations {
    /// Simulates `network` `samples` times with fresh noise and records `node`: its spike,
    /// noise-free drive, noise and score, its parents (presynaptic spikes at its step), its
    /// children (the next layer's spikes at its step) and the loss.
    pub fn collect<R: Rng + ?Sized>(
        network: &Network,
        node: NodeId,
        samples: usize,
        rng: &mut R,
    ) -> Result<Self, CausalError> {
        let index = network.node_index(node)?;
        let noise_law = network.node_noise(index);
        let parent_count = parent_row_len(network, node);
        let child_units = network
            .layers()
            .get(node.layer + 1)
            .map_or(0, |l| l.units());
        let mut observations = NodeObservations {
            node,
            spike: Vec::with_capacity(samples),
            drive: Vec::with_capacity(samples),
            noise: Vec::with_capacity(samples),
            score: noise_law.score(0.0).map(|_| Vec::with_capacity(samples)),
            parents: vec![Vec::with_capacity(samples); parent_count],
            children: vec![Vec::with_capacity(samples); child_units],
            loss: Vec::with_capacity(samples),
            firing_probability: Vec::with_capacity(samples),
            density: Vec::with_capacity(samples),
        };

        for _ in 0..samples {
            let noise = network.sample_noise(rng);
            let trajectory = network.simulate(&noise);
            let (drive, value) = (trajectory.drives()[index], noise.values()[index]);
            observations
                .spike
                .push(f64::from(u8::from(trajectory.spikes()[index])));
            observations.drive.push(drive);
            observations.noise.push(value);
            if let Some(score) = &mut observations.score {
                score.push(noise_law.score(value).unwrap_or(0.0));
            }
            let row = parent_row(network, &trajectory, index);
            for (column, value) in observations.parents.iter_mut().zip(&row[1..]) {
                column.push(*value);
            }
            if child_units > 0 {
                let start = node.step * network.neurons() + network.layer_offset(node.layer + 1);
                for (k, column) in observations.children.iter_mut().enumerate() {
                    column.push(f64::from(u8::from(trajectory.spikes()[start + k])));
                }
            }
            observations.loss.push(trajectory.loss());
            observations.firing_probability.push(noise_law.cdf(drive));
            observations.density.push(noise_law.pdf(drive));
        }
        Ok(observations)
    }

    /// The node observed.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Its spikes (0 or 1).
    pub fn spike(&self) -> &[f64] {
        &self.spike
    }

    /// Its noise-free drives.
    pub fn drive(&self) -> &[f64] {
        &self.drive
    }

    /// Its noise values.
    pub fn noise(&self) -> &[f64] {
        &self.noise
    }

    /// The running variable `drive + noise`: the node spikes exactly when it is positive.
    pub fn running(&self) -> Vec<f64> {
        self.drive
            .iter()
            .zip(&self.noise)
            .map(|(x, xi)| x + xi)
            .collect()
    }

    /// The score `psi(noise)`, the private instrument; an error for uniform noise.
    pub fn score(&self) -> Result<&[f64], CausalError> {
        self.score.as_deref().ok_or(CausalError::ScoreUndefined {
            family: spikeburn_noise::Family::Uniform,
        })
    }

    /// Its parents' spikes, column by column.
    pub fn parents(&self) -> &[Vec<f64>] {
        &self.parents
    }

    /// Its children's spikes (the next layer at the same step), column by column.
    pub fn children(&self) -> &[Vec<f64>] {
        &self.children
    }

    /// The losses.
    pub fn loss(&self) -> &[f64] {
        &self.loss
    }

    /// The firing probabilities `F(drive)`.
    pub fn firing_probability(&self) -> &[f64] {
        &self.firing_probability
    }

    /// The densities `p(drive)`.
    pub fn density(&self) -> &[f64] {
        &self.density
    }

    /// The inverse-propensity-weighted effect of the spike on the loss,
    /// `mean(L (s - F) / (F (1 - F)))`. An error if some propensity is 0 or 1.
    pub fn ipw_effect(&self) -> Result<EffectEstimate, CausalError> {
        let mut terms = Vec::with_capacity(self.loss.len());
        for ((loss, spike), fire) in self
            .loss
            .iter()
            .zip(&self.spike)
            .zip(&self.firing_probability)
        {
            if *fire <= 0.0 || *fire >= 1.0 {
                let node = format!("{:?}", self.node);
                return Err(CausalError::NoPositivity {
                    node,
                    probability: *fire,
                });
            }
            terms.push(loss * (spike - fire) / (fire * (1.0 - fire)));
        }
        let n = terms.len() as f64;
        let std_error = (covariance(&terms, &terms) / n).sqrt();
        Ok(EffectEstimate::new(mean(&terms), std_error, terms.len()))
    }

    /// The Wald estimate of the spike's effect with its own noise score as instrument.
    pub fn wald_effect(&self) -> Result<EffectEstimate, CausalError> {
        wald(&self.loss, &self.spike, self.score()?)
    }

    /// The mean density `p(drive)`, an error when it is zero (the effect cannot be turned into
    /// a gradient, nor a gradient into an effect).
    pub fn mean_density(&self) -> Result<f64, CausalError> {
        let density = mean(&self.density);
        if density > 0.0 {
            Ok(density)
        } else {
            let node = format!("{:?}", self.node);
            Err(CausalError::ZeroDensity {
                node,
                drive: mean(&self.drive),
            })
        }
    }
}

fn parent_row_len(network: &Network, node: NodeId) -> usize {
    match node.layer {
        0 => 0,
        layer => network.layers()[layer - 1].units(),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use spikeburn_noise::Noise;

    use super::*;

    #[test]
    fn estimators_recover_a_known_linear_effect() {
        // y = 2 s + 3 c + e, s = 1[z + c + u > 0]: c confounds, z is an instrument.
        let mut rng = StdRng::seed_from_u64(9);
        let gaussian = Noise::gaussian(1.0).unwrap();
        let n = 20_000;
        let (mut y, mut s, mut z, mut c, mut r) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let (zi, ci, ui) = (
                gaussian.sample(&mut rng),
                gaussian.sample(&mut rng),
                gaussian.sample(&mut rng),
            );
            let running = zi + ci + ui;
            let si = f64::from(u8::from(running > 0.0));
            y.push(2.0 * si + 3.0 * ci + 0.1 * gaussian.sample(&mut rng));
            s.push(si);
            z.push(zi);
            c.push(ci);
            r.push(running);
        }
        let wald = wald(&y, &s, &z).unwrap();
        let tsls = two_stage_least_squares(&y, &s, &[z.clone()], &[]).unwrap();
        // Without covariates 2SLS is the Wald ratio, up to rounding.
        assert!((wald.estimate() - tsls.estimate()).abs() < 1e-9);
        assert!(
            (wald.estimate() - 2.0).abs() < 3.0 * wald.std_error(),
            "{wald:?}"
        );
        let adjusted = Backdoor::new().estimate(&y, &s, &[c.clone()], &[]).unwrap();
        assert!((adjusted.estimate() - 2.0).abs() < 3.0 * adjusted.std_error());
        let naive = Backdoor::new().estimate(&y, &s, &[], &[]).unwrap();
        assert!(naive.estimate() > 3.0, "confounded: {naive:?}");
        // E[y | r] = 2 H(r) + 3 E[c | r] with E[c | r] = r / 3: a line, so local-linear is exact.
        let rdd = RegressionDiscontinuity::new(0.5, DiscontinuityFit::LocalLinear).unwrap();
        let rdd = rdd.estimate(&r, &y).unwrap();
        assert!(
            (rdd.estimate() - 2.0).abs() < 3.0 * rdd.std_error(),
            "{rdd:?}"
        );
    }

    #[test]
    fn undefined_cases_are_errors() {
        let constant = vec![1.0; 10];
        let varying: Vec<f64> = (0..10).map(f64::from).collect();
        assert!(matches!(
            wald(&varying, &constant, &varying),
            Err(CausalError::WeakInstrument { .. })
        ));
        let rdd = RegressionDiscontinuity::new(0.5, DiscontinuityFit::Constant).unwrap();
        let error = rdd.estimate(&varying, &varying).unwrap_err();
        assert!(
            matches!(error, CausalError::EmptyWindow { side: "below", .. }),
            "{error}"
        );
        assert!(RegressionDiscontinuity::new(0.0, DiscontinuityFit::Constant).is_err());
        assert!(matches!(
            wald(&varying, &varying, &varying[..9]),
            Err(CausalError::LengthMismatch { .. })
        ));
    }
}
