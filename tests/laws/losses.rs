//! Loss and distance identities: CrossEntropy == NLL(log_softmax) (with class weights), label
//! smoothing 0 is no smoothing, the mean is the sum over the count (with weights, the weighted
//! count); the triplet loss is zero once its margin is met, the cosine is scale invariant,
//! `cdist`'s diagonal is `PairwiseDistance` and `pdist` its upper triangle, and CTC with one
//! possible alignment is minus that alignment's log-probability.

use proptest::prelude::*;
use stensor::loss::{CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, Reduction, SmoothL1Loss};
use stensor::prelude::*;
use stensor::testing::*;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn cross_entropy_is_nll_of_log_softmax(x in any_tensor_f64::<(U5, U4)>().range(-20.0, 20.0), t in prop::collection::vec(0usize..4, 5)) {
        let weight = Some(vec![1.0, 0.5, 2.0, 1.5]);
        let ce = CrossEntropyLoss { weight: weight.clone(), ..Default::default() }.forward(x.clone(), &t);
        let nll = NLLLoss { weight, ..Default::default() }.forward(x.log_softmax::<1>(), &t);
        close(&ce, &nll, Tolerance::new(1e-12, 1e-12))?;
    }

    #[test]
    fn label_smoothing_zero_is_none(x in any_tensor_f64::<(U6, U3)>().range(-20.0, 20.0), t in prop::collection::vec(0usize..3, 6)) {
        let plain = CrossEntropyLoss::default().forward(x.clone(), &t);
        let zero = CrossEntropyLoss { label_smoothing: 0.0, ..Default::default() }.forward(x, &t);
        close(&plain, &zero, Tolerance::new(0.0, 0.0))?;
    }

    #[test]
    fn the_mean_is_the_sum_over_the_count(
        x in any_tensor_f64::<(U5, U4)>().range(-20.0, 20.0),
        y in any_tensor_f64::<(U5, U4)>().range(-20.0, 20.0),
        t in prop::collection::vec(0usize..4, 5),
        w in prop::collection::vec(0.1f64..3.0, 4),
    ) {
        let tol = Tolerance::new(1e-12, 1e-12);
        // unweighted: divide by the number of examples (elements for pointwise losses)
        let mean = CrossEntropyLoss::default().forward(x.clone(), &t);
        let sum = CrossEntropyLoss { reduction: Reduction::Sum, ..Default::default() }.forward(x.clone(), &t);
        close(&mean, &sum.div_scalar(5.0), tol)?;
        let mean = MSELoss::default().forward(x.clone(), &y);
        let sum = MSELoss { reduction: Reduction::Sum }.forward(x.clone(), &y);
        close(&mean, &sum.div_scalar(20.0), tol)?;
        let mean = L1Loss::default().forward(x.clone(), &y);
        let sum = L1Loss { reduction: Reduction::Sum }.forward(x.clone(), &y);
        close(&mean, &sum.div_scalar(20.0), tol)?;
        let mean = SmoothL1Loss::default().forward(x.clone(), &y);
        let sum = SmoothL1Loss { reduction: Reduction::Sum, ..Default::default() }.forward(x.clone(), &y);
        close(&mean, &sum.div_scalar(20.0), tol)?;
        // weighted: divide by the total weight of the targets
        let wc: f64 = t.iter().map(|&c| w[c]).sum();
        let mean = CrossEntropyLoss { weight: Some(w.clone()), ..Default::default() }.forward(x.clone(), &t);
        let sum = CrossEntropyLoss { weight: Some(w), reduction: Reduction::Sum, ..Default::default() }.forward(x, &t);
        close(&mean, &sum.div_scalar(wc), tol)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// A negative `margin` further from its anchor than the positive: no loss, no gradient.
    #[test]
    fn triplet_loss_is_zero_when_the_margin_is_met(
        a in any_tensor_f64::<(usize, U4)>().sizes(1, 6),
        dir in any_tensor_f64::<(U4,)>().range(0.5, 1.0),
        margin in 0.0f64..2.0,
    ) {
        use stensor::loss::TripletMarginLoss;
        let n = a.dims()[0];
        let step = dir.broadcast_to((n, U4::new()));
        // the positive a small step off, the negative the margin and more beyond it
        let pos = a.clone().add(&step.clone().mul_scalar(0.01));
        let neg = a.clone().add(&step.mul_scalar(margin + 0.2));
        let l = TripletMarginLoss { margin, ..Default::default() };
        let at = a.trace();
        let loss = l.forward(at.clone(), &pos.trace_no_grad(), &neg.trace_no_grad());
        prop_assert_eq!(loss.item(), 0.0);
        prop_assert!(loss.backward().get(&at).unwrap().as_slice().iter().all(|&g| g == 0.0));
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Scaling either side by a positive number leaves the cosine where it was.
    #[test]
    fn cosine_similarity_is_scale_invariant(
        a in any_tensor_f64::<(usize, U5)>().sizes(1, 6).range(0.1, 2.0),
        b in any_tensor_f64::<(U1, U5)>().range(-2.0, 2.0),
        k in 0.01f64..100.0,
    ) {
        let n = a.dims()[0];
        let b = b.expand((n, U5::new()));
        let base = a.clone().cosine_similarity::<1, _>(&b, 1e-8);
        let scaled = a.mul_scalar(k).cosine_similarity::<1, _>(&b.mul_scalar(1.0 / k.sqrt()), 1e-8);
        close(&base, &scaled, Tolerance::new(1e-12, 1e-12))?;
        prop_assert!(base.as_slice().iter().all(|c| c.abs() <= 1.0));
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// `cdist`'s diagonal is `PairwiseDistance` (without its `eps`), and `pdist` is
    /// `cdist(x, x)` above the diagonal, for every order.
    #[test]
    fn cdist_agrees_with_pairwise_distance_and_pdist(
        a in any_tensor_f64::<(usize, U4)>().sizes(1, 6),
        step in any_tensor_f64::<(U4,)>().range(-3.0, 3.0),
        p in prop::sample::select(vec![0.0, 1.0, 1.5, 2.0, 3.0, f64::INFINITY]),
    ) {
        use stensor::nn::PairwiseDistance;
        let n = a.dims()[0];
        let b = a.clone().flip::<0>().add(&step.broadcast_to((n, U4::new())));
        let all = a.clone().cdist(&b, p).to_vec();
        let pairwise = PairwiseDistance { p, eps: 0.0 }.forward(a.clone(), &b).to_vec();
        for i in 0..n {
            prop_assert!((all[i * n + i] - pairwise[i]).abs() <= 1e-12 * pairwise[i].max(1.0));
        }
        let own = a.clone().cdist(&a, p).to_vec();
        let pd = a.pdist(p).to_vec();
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                prop_assert_eq!(pd[k], own[i * n + j]);
                k += 1;
            }
        }
        prop_assert_eq!(k, pd.len());
    }

    /// As many frames as labels and no two equal labels in a row: one alignment is possible
    /// (each label on its own frame, no blank), so the loss is minus its log-probability.
    #[test]
    fn ctc_with_one_possible_alignment_is_minus_its_log_probability(
        x in any_tensor_f64::<(usize, U1, U5)>().sizes(1, 8).range(-4.0, 4.0),
        steps in prop::collection::vec(1usize..4, 8),
    ) {
        use stensor::loss::CTCLoss;
        let frames = x.dims()[0];
        // labels 1..=4 (0 is the blank), each differing from the one before
        let mut labels = vec![1 + steps[0] % 4];
        for s in &steps[1..frames] {
            labels.push(1 + (labels[labels.len() - 1] - 1 + s) % 4);
        }
        let lp = x.log_softmax::<2>();
        let path: f64 = labels.iter().enumerate().map(|(t, &k)| lp.as_slice()[t * 5 + k]).sum();
        let ids: Vec<i64> = labels.iter().map(|&k| k as i64).collect();
        let targets = Indices::from_vec_shaped((frames,), ids).unwrap();
        let l = CTCLoss { reduction: Reduction::Sum, ..Default::default() };
        let loss = l.forward(lp, &targets, &[frames as i64], &[frames as i64]).unwrap();
        prop_assert!((loss.item() + path).abs() <= 1e-12 * path.abs().max(1.0));
    }
}
