//! Explicit feature maps for histogram blocks, so that a linear model on the mapped values
//! approximates an additive kernel on the histograms (Vedaldi & Zisserman, PAMI 2012):
//! the identity, the Hellinger map `sqrt(x)` (exact for the Bhattacharyya kernel) and a
//! 3-sample additive chi-square map (the sampling of the chi-square kernel's spectrum with
//! interval 0.5 and two steps, as scikit-learn's `AdditiveChi2Sampler(sample_steps=2)`).

use serde::{Deserialize, Serialize};

/// How histogram values are mapped before a linear model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistogramMap {
    /// The normalised histogram itself.
    Identity,
    /// `sqrt(x)`.
    #[default]
    Hellinger,
    /// The additive chi-square map: three values per bin.
    Chi2,
}

/// The chi-square map's sampling interval (scikit-learn's for two steps).
const CHI2_INTERVAL: f64 = 0.5;

impl HistogramMap {
    /// Values produced per histogram bin.
    pub fn width(self) -> usize {
        match self {
            HistogramMap::Chi2 => 3,
            _ => 1,
        }
    }

    /// Writes the map of `x >= 0` into `out` (`width()` values).
    pub fn apply(self, x: f64, out: &mut [f32]) {
        match self {
            HistogramMap::Identity => out[0] = x as f32,
            HistogramMap::Hellinger => out[0] = x.max(0.0).sqrt() as f32,
            HistogramMap::Chi2 => {
                if x <= 0.0 {
                    out[..3].iter_mut().for_each(|v| *v = 0.0);
                    return;
                }
                let l = CHI2_INTERVAL;
                out[0] = (x * l).sqrt() as f32;
                let f = (2.0 * x * l / (std::f64::consts::PI * l).cosh()).sqrt();
                let a = l * x.ln();
                out[1] = (f * a.cos()) as f32;
                out[2] = (f * a.sin()) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let mut o = [0.0f32; 3];
        HistogramMap::Hellinger.apply(0.25, &mut o);
        assert_eq!(o[0], 0.5);
        HistogramMap::Identity.apply(0.25, &mut o);
        assert_eq!(o[0], 0.25);
        // chi2 at x = 1: sqrt(0.5); log 1 = 0, so cos = 1, sin = 0.
        HistogramMap::Chi2.apply(1.0, &mut o);
        assert!((o[0] - 0.5f32.sqrt()).abs() < 1e-6);
        let f = (1.0 / (std::f64::consts::PI * 0.5).cosh()).sqrt() as f32;
        assert!((o[1] - f).abs() < 1e-6 && o[2].abs() < 1e-7);
        HistogramMap::Chi2.apply(0.0, &mut o);
        assert_eq!(o, [0.0; 3]);
    }

    #[test]
    fn chi2_map_approximates_the_chi2_kernel() {
        // k(x, y) = 2xy / (x + y); the map's inner product should be close: with one
        // frequency (3 values) and period L = 0.5 the map's error is about 10% (at x = y it
        // gives x L (1 + 2 sech(pi L)) = 0.90 x), as Vedaldi & Zisserman's analysis says.
        let mut a = [0.0f32; 3];
        let mut b = [0.0f32; 3];
        for (x, y) in [(0.3, 0.3), (0.2, 0.5), (0.05, 0.1)] {
            HistogramMap::Chi2.apply(x, &mut a);
            HistogramMap::Chi2.apply(y, &mut b);
            let dot: f32 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
            let k = (2.0 * x * y / (x + y)) as f32;
            assert!((dot - k).abs() < 0.12 * k, "{x} {y}: {dot} vs {k}");
        }
    }
}
