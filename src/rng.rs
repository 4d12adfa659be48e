//! A small seeded random number generator.
//!
//! Design note: the project's own generator (xoshiro256++ seeded by SplitMix64) rather than a
//! `rand` engine, because a seed must give the same weights and the same data order in every
//! version of this library (reproducible experiments), which `rand` does not promise for its
//! standard engines across releases.

/// A seeded generator of uniform and normal numbers (xoshiro256++).
///
/// ```
/// use stensor::tensor::Rng;
/// let mut a = Rng::seed(42);
/// let mut b = Rng::seed(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let u = a.uniform(-1.0, 1.0);
/// assert!((-1.0..1.0).contains(&u));
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    /// The generator for `seed`.
    ///
    /// ```
    /// let _ = stensor::tensor::Rng::seed(7);
    /// ```
    pub fn seed(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// let mut r = stensor::tensor::Rng::seed(1);
    /// assert_ne!(r.next_u64(), r.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    ///
    /// ```
    /// let x = stensor::tensor::Rng::seed(3).next_f64();
    /// assert!((0.0..1.0).contains(&x));
    /// ```
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    ///
    /// ```
    /// let x = stensor::tensor::Rng::seed(3).uniform(2.0, 3.0);
    /// assert!((2.0..3.0).contains(&x));
    /// ```
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Normal with the given mean and standard deviation (Box-Muller).
    ///
    /// ```
    /// let mut r = stensor::tensor::Rng::seed(5);
    /// let n = 20_000;
    /// let mean = (0..n).map(|_| r.normal(1.0, 2.0)).sum::<f64>() / n as f64;
    /// assert!((mean - 1.0).abs() < 0.1);
    /// ```
    pub fn normal(&mut self, mean: f64, std: f64) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return mean + std * z;
        }
        let u1 = loop {
            let u = self.next_f64();
            if u > 0.0 {
                break u;
            }
        };
        let u2 = self.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(r * theta.sin());
        mean + std * r * theta.cos()
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias.
    ///
    /// ```
    /// let mut r = stensor::tensor::Rng::seed(9);
    /// assert!((0..10).all(|_| r.below(6) < 6));
    /// ```
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}
