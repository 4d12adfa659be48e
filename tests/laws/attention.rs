//! Laws of scaled dot-product attention over random batch sizes and lengths: permuting the
//! key/value pairs together changes nothing; with the causal rule, output position `t` does
//! not depend on the inputs after `t`; a key that the mask hides entirely is as if it were not
//! there; one head with identity projections is plain softmax attention.

use proptest::prelude::*;
use stensor::nn::{BatchFirst, MhaConfig, MhaOptions, MultiheadAttention};
use stensor::ops::{AttnMask, Sdpa};
use stensor::prelude::*;
use stensor::tensor::Rng;
use stensor::testing::*;

type T3<F> = Tensor<(usize, usize, F), f64>;

fn rand<F: ConstDim>(b: usize, n: usize, seed: u64) -> T3<F> {
    Tensor::uniform_shaped((b, n, F::default()), &mut Rng::seed(seed), -2.0, 2.0)
}

/// `y` (one position) inserted into `x` at position `at` of axis 1.
fn insert<F: ConstDim>(x: &T3<F>, y: &T3<F>, at: usize) -> Tensor<(usize, usize, F), f64> {
    let s = x.dims()[1];
    let (front, back) = (
        x.clone().narrow::<1, usize>(0, at),
        x.clone().narrow::<1, usize>(at, s - at),
    );
    front.concat::<1, _, _>(y).concat::<1, _, _>(&back)
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn permuting_key_value_pairs_together_changes_nothing(
        b in 1usize..3, l in 1usize..6, s in 1usize..7, seed in any::<u64>(), rot in 0usize..7,
    ) {
        let (q, k, v) = (rand::<U4>(b, l, seed), rand::<U4>(b, s, seed ^ 1), rand::<U3>(b, s, seed ^ 2));
        // a permutation of the keys: reversed, then rotated
        let order: Vec<i64> = (0..s).map(|j| ((s - 1 - j + rot) % s) as i64).collect();
        let idx = Indices::<(usize,)>::from_vec_shaped((s,), order).unwrap();
        let (kp, vp) = (k.clone().index_select::<1, _>(&idx), v.clone().index_select::<1, _>(&idx));
        let y = q.clone().scaled_dot_product_attention(&k, &v, Sdpa::new());
        let yp = q.scaled_dot_product_attention(&kp, &vp, Sdpa::new());
        close(&y, &yp, Tolerance::ROUNDING)?;
    }

    #[test]
    fn a_causal_output_ignores_what_comes_after_it(
        b in 1usize..3, l in 2usize..7, seed in any::<u64>(), t in 0usize..6,
    ) {
        let t = t % (l - 1);
        let (q, k, v) = (rand::<U4>(b, l, seed), rand::<U4>(b, l, seed ^ 1), rand::<U3>(b, l, seed ^ 2));
        // every input after position t replaced
        let later = |x: &T3<U4>, s: u64| {
            let fresh = rand::<U4>(b, l, s);
            let keep = Mask::<(usize, usize, U4)>::from_fn_shaped((b, l, U4::new()), |ix| ix[1] <= t);
            x.clone().where_(&keep, &fresh)
        };
        let fresh_v = rand::<U3>(b, l, seed ^ 5);
        let keep_v = Mask::<(usize, usize, U3)>::from_fn_shaped((b, l, U3::new()), |ix| ix[1] <= t);
        let (q2, k2, v2) = (later(&q, seed ^ 3), later(&k, seed ^ 4), v.clone().where_(&keep_v, &fresh_v));
        let y = q.scaled_dot_product_attention(&k, &v, Sdpa::new().causal());
        let y2 = q2.scaled_dot_product_attention(&k2, &v2, Sdpa::new().causal());
        let head = |y: Tensor<(usize, usize, U3), f64>| y.narrow::<1, usize>(0, t + 1);
        close(&head(y), &head(y2), Tolerance::ROUNDING)?;
    }

    #[test]
    fn a_hidden_key_is_as_if_it_were_not_there(
        b in 1usize..3, l in 1usize..6, s in 1usize..6, seed in any::<u64>(), at in 0usize..6,
    ) {
        let at = at % (s + 1);
        let (q, k, v) = (rand::<U4>(b, l, seed), rand::<U4>(b, s, seed ^ 1), rand::<U3>(b, s, seed ^ 2));
        // one more key/value pair at position `at`, hidden from every query
        let (k1, v1) = (rand::<U4>(b, 1, seed ^ 3), rand::<U3>(b, 1, seed ^ 4));
        let allow = Mask::<(usize, usize)>::from_fn_shaped((l, s + 1), |ix| ix[1] != at);
        let y = q.clone().scaled_dot_product_attention(&k, &v, Sdpa::new());
        let y1 = q.scaled_dot_product_attention(&insert(&k, &k1, at), &insert(&v, &v1, at), Sdpa::new().mask(AttnMask::allow(&allow)));
        close(&y, &y1, Tolerance::ROUNDING)?;
    }

    #[test]
    fn one_head_with_identity_projections_is_plain_attention(
        b in 1usize..3, l in 1usize..6, s in 1usize..6, seed in any::<u64>(), need_weights in any::<bool>(),
    ) {
        let no_bias = MhaConfig { bias: false, ..MhaConfig::default() };
        let mut mha = MultiheadAttention::<U4, U1, U4, U4, BatchFirst, f64>::with_options(
            &mut Rng::seed(seed), no_bias,
        );
        let eye = |i: usize, j: usize| if i % 4 == j { 1.0 } else { 0.0 };
        mha.in_proj_weight = Some(Tensor::from_fn_shaped(Default::default(), |[i, j]| eye(i, j)));
        mha.out_proj.weight = Tensor::from_fn_shaped(Default::default(), |[i, j]| eye(i, j));
        let (q, k, v) = (rand::<U4>(b, l, seed), rand::<U4>(b, s, seed ^ 1), rand::<U4>(b, s, seed ^ 2));
        let opts = MhaOptions { need_weights, ..MhaOptions::default() };
        let (y, _) = mha.attend(q.clone(), k.clone(), v.clone(), opts);
        let plain = q.scaled_dot_product_attention(&k, &v, Sdpa::new());
        close(&y, &plain, Tolerance::ROUNDING)?;
    }
}
