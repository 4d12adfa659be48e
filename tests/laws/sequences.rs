//! Laws of the sequence ops, over random runtime batch sizes and lengths: `Embedding` is a
//! one-hot matrix times its weight; `cat` then `narrow` gives the parts back; `gather` is the
//! adjoint of `scatter_add`; `masked_fill` is `where_` against a constant; `sort` orders each
//! line and its indices gather the sorted values; `chunk` then `cat` is the identity; the
//! bags of `EmbeddingBag` are the sums and means of the looked-up rows.

use crate::adjoint;
use proptest::prelude::*;
use stensor::nn::{Embedding, EmbeddingBag, Forward};
use stensor::ops::BagMode;
use stensor::prelude::*;
use stensor::testing::*;

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn embedding_is_one_hot_times_the_weight(
        ids in any_indices::<(usize, usize)>(12).sizes(1, 6),
        emb in any_module(Embedding::<U12, U5, f64>::new),
    ) {
        let emb = emb.module;
        let (n, l) = ids.shape();
        let one_hot = Tensor::<(usize, usize, U12), f64>::from_fn_shaped((n, l, U12::new()), |[i, j, k]| {
            f64::from(u8::from(ids.as_slice()[i * l + j] == k as i64))
        });
        close(&emb.forward(ids.clone()), &one_hot.matmul(&emb.weight), Tolerance::ROUNDING)?;
    }

    #[test]
    fn cat_then_narrow_gives_the_parts_back(
        a in any_tensor_f64::<(U2, usize, U3)>().sizes(1, 7),
        b in any_tensor_f64::<(U2, usize, U3)>().sizes(1, 7),
    ) {
        let (la, lb) = (a.dims()[1], b.dims()[1]);
        let c = Tensor::cat::<1>(&[a.clone(), b.clone()]);
        close(&c.clone().narrow::<1, _>(0, la), &a, Tolerance::EXACT)?;
        close(&c.narrow::<1, _>(la, lb), &b, Tolerance::EXACT)?;
    }

    #[test]
    fn gather_is_the_adjoint_of_scatter_add(
        x in any_tensor_f64::<(U3, U5)>(),
        y in any_tensor_f64::<(U3, usize)>().sizes(1, 8),
        seed in any::<u64>(),
    ) {
        let mut rng = stensor::tensor::Rng::seed(seed);
        let idx = Indices::<(U3, usize)>::from_fn_shaped(y.shape(), |_| rng.below(5) as i64);
        let gx = x.clone().gather::<1, _>(&idx);
        let sy = Tensor::<(U3, U5), f64>::zeros().scatter_add::<1, _, _>(&idx, &y);
        adjoint(&gx, &y, &x, &sy)?;
    }

    #[test]
    fn masked_fill_is_where_against_a_constant(
        x in any_tensor_f64::<(usize, U4)>().sizes(1, 5),
        seed in any::<u64>(),
    ) {
        let mut rng = stensor::tensor::Rng::seed(seed);
        let m = Mask::<(usize, U4)>::from_fn_shaped(x.shape(), |_| rng.below(2) == 1);
        let fill = Tensor::<(usize, U4), f64>::full_shaped(x.shape(), 7.5);
        close(&x.clone().masked_fill(&m, 7.5), &fill.where_(&m, &x), Tolerance::EXACT)?;
        // and a mask and its negation split x between them
        let kept = x.clone().masked_fill(&m, 0.0).add(&x.clone().masked_fill(&!&m, 0.0));
        close(&kept, &x, Tolerance::EXACT)?;
    }

    #[test]
    fn sort_orders_each_line_and_its_indices_gather_the_values(
        x in any_tensor_f64::<(usize, U6)>().sizes(1, 4).with_zeros(),
        descending in any::<bool>(),
    ) {
        let (v, i) = x.clone().sort::<1>(descending);
        for row in v.as_slice().chunks(6) {
            prop_assert!(row.windows(2).all(|w| if descending { w[0] >= w[1] } else { w[0] <= w[1] }), "{row:?}");
        }
        close(&x.gather::<1, _>(&i), &v, Tolerance::EXACT)?;
    }

    #[test]
    fn chunk_then_cat_is_the_identity(x in any_tensor_f64::<(usize, U6)>().sizes(1, 5)) {
        let parts: [Tensor<(usize, U2), f64>; 3] = x.clone().chunk::<1, 3>();
        let joined = Tensor::cat::<1>(&parts);
        prop_assert_eq!(joined.dims(), x.dims());
        prop_assert_eq!(joined.to_vec(), x.to_vec());
    }

    #[test]
    fn bags_are_sums_and_means_of_the_looked_up_rows(
        ids in any_indices::<(usize, usize)>(9).sizes(1, 5),
        emb in any_module(Embedding::<U9, U3, f64>::new),
    ) {
        let emb = emb.module;
        let bag = EmbeddingBag::from_pretrained(emb.weight.clone(), true);
        let rows = emb.forward(ids.clone());
        close(&bag.clone().mode(BagMode::Sum).forward(ids.clone()), &rows.clone().sum_axis::<1>(), Tolerance::ROUNDING)?;
        close(&bag.mode(BagMode::Mean).forward(ids), &rows.mean_axis::<1>(), Tolerance::ROUNDING)?;
    }
}
