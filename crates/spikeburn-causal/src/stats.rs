//! Small statistics: running moments, cosines and least squares.

use crate::CausalError;

/// Running mean and variance of vectors (Welford's algorithm).
#[derive(Debug, Clone)]
pub(crate) struct Moments {
    count: usize,
    mean: Vec<f64>,
    sum_squares: Vec<f64>,
}

impl Moments {
    pub(crate) fn new(dimension: usize) -> Self {
        Moments {
            count: 0,
            mean: vec![0.0; dimension],
            sum_squares: vec![0.0; dimension],
        }
    }

    pub(crate) fn push(&mut self, sample: &[f64]) {
        self.count += 1;
        let n = self.count as f64;
        for ((mean, squares), value) in self.mean.iter_mut().zip(&mut self.sum_squares).zip(sample)
        {
            let before = value - *mean;
            *mean += before / n;
            *squares += before * (value - *mean);
        }
    }

    pub(crate) fn mean(&self) -> Vec<f64> {
        self.mean.clone()
    }

    /// The standard error of the mean, `sqrt(var / n)` with the unbiased variance.
    pub(crate) fn std_error(&self) -> Vec<f64> {
        let n = self.count as f64;
        self.sum_squares
            .iter()
            .map(|squares| (squares / ((n - 1.0) * n)).sqrt())
            .collect()
    }
}

/// The cosine of the angle between two vectors; 0 when either is zero.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = norm(a) * norm(b);
    if norms == 0.0 { 0.0 } else { dot / norms }
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// An ordinary least-squares fit.
#[derive(Debug, Clone)]
pub(crate) struct LeastSquares {
    pub(crate) coefficients: Vec<f64>,
    /// `(X^T X)^-1`.
    pub(crate) inverse_gram: Vec<Vec<f64>>,
}

impl LeastSquares {
    /// Fits `y ~ X beta`, `rows` the rows of `X`. Singular designs are an error.
    pub(crate) fn fit(
        what: &'static str,
        rows: &[Vec<f64>],
        y: &[f64],
        ridge: f64,
    ) -> Result<Self, CausalError> {
        let columns = rows.first().map_or(0, Vec::len);
        let mut gram = vec![vec![0.0; columns]; columns];
        let mut moment = vec![0.0; columns];
        for (row, target) in rows.iter().zip(y) {
            for a in 0..columns {
                moment[a] += row[a] * target;
                for b in 0..columns {
                    gram[a][b] += row[a] * row[b];
                }
            }
        }
        for (a, row) in gram.iter_mut().enumerate() {
            row[a] += ridge;
        }
        let inverse_gram = invert(&gram).ok_or(CausalError::Singular { what, columns })?;
        let coefficients = inverse_gram
            .iter()
            .map(|row| row.iter().zip(&moment).map(|(g, m)| g * m).sum())
            .collect();
        Ok(LeastSquares {
            coefficients,
            inverse_gram,
        })
    }

    pub(crate) fn predict(&self, row: &[f64]) -> f64 {
        self.coefficients.iter().zip(row).map(|(b, x)| b * x).sum()
    }

    /// The homoskedastic standard error of coefficient `index`, with residuals `residuals`.
    pub(crate) fn std_error(&self, index: usize, residuals: &[f64]) -> f64 {
        let dof = residuals
            .len()
            .saturating_sub(self.coefficients.len())
            .max(1) as f64;
        let variance = residuals.iter().map(|r| r * r).sum::<f64>() / dof;
        (variance * self.inverse_gram[index][index]).sqrt()
    }
}

/// Gauss-Jordan inversion with partial pivoting; `None` when the matrix is (numerically)
/// singular relative to its largest diagonal entry.
fn invert(matrix: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = matrix.len();
    let scale = (0..n).map(|i| matrix[i][i].abs()).fold(0.0, f64::max);
    if n == 0 || scale == 0.0 {
        return None;
    }
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut inverse: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();

    for column in 0..n {
        let pivot =
            (column..n).max_by(|&i, &j| a[i][column].abs().total_cmp(&a[j][column].abs()))?;
        if a[pivot][column].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(column, pivot);
        inverse.swap(column, pivot);
        let divisor = a[column][column];
        for j in 0..n {
            a[column][j] /= divisor;
            inverse[column][j] /= divisor;
        }
        for row in 0..n {
            if row == column {
                continue;
            }
            let factor = a[row][column];
            if factor == 0.0 {
                continue;
            }
            for j in 0..n {
                a[row][j] -= factor * a[column][j];
                inverse[row][j] -= factor * inverse[column][j];
            }
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_an_exact_line() {
        let rows: Vec<Vec<f64>> = (0..6)
            .map(|i| vec![1.0, i as f64, (i * i) as f64])
            .collect();
        let y: Vec<f64> = rows
            .iter()
            .map(|r| 2.0 - 0.5 * r[1] + 0.25 * r[2])
            .collect();
        let fit = LeastSquares::fit("test", &rows, &y, 0.0).unwrap();
        for (got, want) in fit.coefficients.iter().zip([2.0, -0.5, 0.25]) {
            assert!((got - want).abs() < 1e-10);
        }
        let collinear: Vec<Vec<f64>> = (0..6)
            .map(|i| vec![1.0, i as f64, 2.0 * i as f64])
            .collect();
        assert!(LeastSquares::fit("test", &collinear, &y, 0.0).is_err());
    }

    #[test]
    fn moments_match_two_pass_formulas() {
        let mut moments = Moments::new(1);
        for x in [1.0, 2.0, 4.0, 7.0] {
            moments.push(&[x]);
        }
        assert_eq!(moments.mean(), vec![3.5]);
        // Variance (6.25 + 2.25 + 0.25 + 12.25) / 3 = 7, standard error sqrt(7 / 4).
        assert!((moments.std_error()[0] - (7.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-15);
    }
}
