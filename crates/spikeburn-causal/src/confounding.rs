//! Two neurons with correlated input: the confounding benchmark of Lansdell and Kording (2023),
//! on which observational estimators of one spike's effect can be compared with the truth.
//!
//! In each trial two leaky integrators receive input noise with a shared component,
//!
//! ```text
//! v_i = sum_{t < T} decay^(T - 1 - t) (mean + sd (sqrt(rho) c(t) + sqrt(1 - rho) e_i(t)))
//! s_i = H(v_i - threshold + xi_i)
//! R   = a_1 s_1 + a_2 s_2 + outcome_sd z
//! ```
//!
//! with `c`, `e_i`, `z` standard normal, `rho` the input correlation and `xi_i` each neuron's
//! private escape noise. The effect of neuron 1's spike on `R` is `a_1` by construction. Because
//! `s_2` follows the same shared input, the naive difference `E[R | s_1 = 1] - E[R | s_1 = 0]`
//! also picks up `a_2` times the correlation of the two spikes. Three estimators recover `a_1`:
//! backdoor adjustment for `s_2` (which blocks the path `s_1 <- c -> s_2 -> R`), the Wald ratio
//! with neuron 1's private noise as instrument, and regression discontinuity on neuron 1's
//! running variable `v_1 - threshold + xi_1`.
//!
//! [Lansdell and Kording 2023](https://doi.org/10.1371/journal.pcbi.1011005)

use rand::Rng;
use serde::{Deserialize, Serialize};
use spikeburn_noise::Noise;

use crate::CausalError;
use crate::effects::{Backdoor, DiscontinuityFit, EffectEstimate, RegressionDiscontinuity, wald};

/// The settings of a [`ConfoundedPair`], as written in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfoundedPairSpec {
    /// Correlation `rho` of the two neurons' input noise, in `[0, 1]`.
    pub correlation: f64,
    /// Steps `T` in the integration window, at least 1.
    pub steps: usize,
    /// Membrane decay per step, in `[0, 1]`.
    pub decay: f64,
    /// Mean input per step.
    pub mean_input: f64,
    /// Standard deviation of the input per step, positive.
    pub input_sd: f64,
    /// Firing threshold.
    pub threshold: f64,
    /// Each neuron's private escape noise, the instrument.
    pub noise: Noise,
    /// `[a_1, a_2]`: the effect of each neuron's spike on the outcome.
    pub effects: [f64; 2],
    /// Standard deviation of the outcome noise, non-negative.
    pub outcome_sd: f64,
}

impl ConfoundedPairSpec {
    /// A strongly confounded default: `rho` given, 10 steps, decay 0.9, threshold at the mean
    /// membrane, logistic private noise of scale 0.5, effects `[1, 2]`, outcome noise 0.1.
    pub fn with_correlation(correlation: f64) -> Self {
        ConfoundedPairSpec {
            correlation,
            steps: 10,
            decay: 0.9,
            mean_input: 0.1,
            input_sd: 0.5,
            threshold: 0.1 * (1.0 - 0.9f64.powi(10)) / (1.0 - 0.9),
            noise: Noise::logistic(0.5).expect("a valid scale"),
            effects: [1.0, 2.0],
            outcome_sd: 0.1,
        }
    }

    /// Validates the settings, naming the first bad one.
    pub fn check(&self) -> Result<ConfoundedPair, CausalError> {
        let invalid = |name, expected, value| {
            Err(CausalError::InvalidParameter {
                name,
                expected,
                value,
            })
        };
        if !(0.0..=1.0).contains(&self.correlation) {
            return invalid("correlation", "in [0, 1]", self.correlation);
        }
        if self.steps == 0 {
            return invalid("steps", "at least 1", 0.0);
        }
        if !(0.0..=1.0).contains(&self.decay) {
            return invalid("decay", "in [0, 1]", self.decay);
        }
        if !(self.input_sd > 0.0 && self.input_sd.is_finite()) {
            return invalid("input_sd", "positive and finite", self.input_sd);
        }
        if !(self.outcome_sd >= 0.0 && self.outcome_sd.is_finite()) {
            return invalid("outcome_sd", "non-negative and finite", self.outcome_sd);
        }
        let finite = [
            ("mean_input", self.mean_input),
            ("threshold", self.threshold),
            ("effects[0]", self.effects[0]),
            ("effects[1]", self.effects[1]),
        ];
        for (name, value) in finite {
            if !value.is_finite() {
                return invalid(name, "finite", value);
            }
        }

        Ok(ConfoundedPair { spec: self.clone() })
    }
}

/// A checked two-neuron confounding benchmark; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfoundedPair {
    spec: ConfoundedPairSpec,
}

/// The observations of [`ConfoundedPair::observe`], one entry per trial.
#[derive(Debug, Clone, PartialEq)]
pub struct PairObservations {
    /// Neuron 1's spike (0 or 1): the treatment.
    pub spike: Vec<f64>,
    /// Neuron 2's spike (0 or 1): the confounded bystander.
    pub other_spike: Vec<f64>,
    /// Neuron 1's running variable `v_1 - threshold + xi_1`; it spikes when this is positive.
    pub running: Vec<f64>,
    /// The score `psi(xi_1)` of neuron 1's private noise: the instrument.
    pub instrument: Vec<f64>,
    /// The outcome `R`.
    pub outcome: Vec<f64>,
}

/// The four estimates of the effect of neuron 1's spike on the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct PairEstimates {
    /// `E[R | s_1 = 1] - E[R | s_1 = 0]`: confounded.
    pub naive: EffectEstimate,
    /// The coefficient of `s_1` in `R ~ 1 + s_1 + s_2`.
    pub backdoor: EffectEstimate,
    /// The Wald ratio with neuron 1's private noise score as instrument.
    pub instrumental: EffectEstimate,
    /// Local-linear regression discontinuity on neuron 1's running variable.
    pub discontinuity: EffectEstimate,
}

impl ConfoundedPair {
    /// The settings.
    pub fn spec(&self) -> &ConfoundedPairSpec {
        &self.spec
    }

    /// The true effect of neuron 1's spike on the outcome, `a_1`.
    pub fn true_effect(&self) -> f64 {
        self.spec.effects[0]
    }

    /// Simulates `trials` independent trials.
    ///
    /// # Errors
    /// If the private noise has no score (uniform noise), since the instrument is its score.
    pub fn observe<R: Rng + ?Sized>(
        &self,
        trials: usize,
        rng: &mut R,
    ) -> Result<PairObservations, CausalError> {
        let spec = &self.spec;
        let family = spec.noise.family();
        spec.noise
            .score(0.0)
            .ok_or(CausalError::ScoreUndefined { family })?;
        let normal = Noise::gaussian(1.0).expect("a valid scale");
        let (shared, own) = (spec.correlation.sqrt(), (1.0 - spec.correlation).sqrt());

        let mut observations = PairObservations {
            spike: Vec::with_capacity(trials),
            other_spike: Vec::with_capacity(trials),
            running: Vec::with_capacity(trials),
            instrument: Vec::with_capacity(trials),
            outcome: Vec::with_capacity(trials),
        };
        for _ in 0..trials {
            let mut membrane = [0.0; 2];
            for _ in 0..spec.steps {
                let common = normal.sample(rng);
                for v in &mut membrane {
                    let input = shared * common + own * normal.sample(rng);
                    *v = spec.decay * *v + spec.mean_input + spec.input_sd * input;
                }
            }
            let escape = [spec.noise.sample(rng), spec.noise.sample(rng)];
            let running = [0, 1].map(|i| membrane[i] - spec.threshold + escape[i]);
            let spikes = running.map(|r| f64::from(u8::from(r > 0.0)));
            let outcome = spec.effects[0] * spikes[0]
                + spec.effects[1] * spikes[1]
                + spec.outcome_sd * normal.sample(rng);

            observations.spike.push(spikes[0]);
            observations.other_spike.push(spikes[1]);
            observations.running.push(running[0]);
            let score = spec.noise.score(escape[0]);
            observations.instrument.push(score.unwrap_or(0.0));
            observations.outcome.push(outcome);
        }

        Ok(observations)
    }

    /// The naive, backdoor, instrumental-variable and discontinuity estimates from `trials`
    /// trials; `bandwidth` is the half width of the discontinuity window.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        trials: usize,
        bandwidth: f64,
        rng: &mut R,
    ) -> Result<PairEstimates, CausalError> {
        let seen = self.observe(trials, rng)?;
        let discontinuity = RegressionDiscontinuity::new(bandwidth, DiscontinuityFit::LocalLinear)?;

        Ok(PairEstimates {
            naive: Backdoor::new().estimate(&seen.outcome, &seen.spike, &[], &[])?,
            backdoor: Backdoor::new().estimate(
                &seen.outcome,
                &seen.spike,
                std::slice::from_ref(&seen.other_spike),
                &[],
            )?,
            instrumental: wald(&seen.outcome, &seen.spike, &seen.instrument)?,
            discontinuity: discontinuity.estimate(&seen.running, &seen.outcome)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn settings_are_checked_by_name() {
        let mut spec = ConfoundedPairSpec::with_correlation(1.5);
        let error = spec.check().unwrap_err().to_string();
        assert!(
            error.contains("correlation") && error.contains("1.5"),
            "{error}"
        );
        spec.correlation = 0.5;
        spec.steps = 0;
        assert!(spec.check().unwrap_err().to_string().contains("steps"));
        spec.steps = 3;
        spec.noise = Noise::uniform(0.5).unwrap();
        let pair = spec.check().unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            pair.observe(10, &mut rng),
            Err(CausalError::ScoreUndefined { .. })
        ));
    }

    #[test]
    fn uncorrelated_inputs_leave_the_naive_estimate_unbiased() {
        // With rho = 0 the two spikes are independent, so the naive difference is `a_1` too.
        let pair = ConfoundedPairSpec::with_correlation(0.0).check().unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let naive = pair.estimate(40_000, 0.5, &mut rng).unwrap().naive;
        assert!(
            (naive.estimate() - 1.0).abs() < 3.0 * naive.std_error(),
            "{naive:?}"
        );
    }
}
