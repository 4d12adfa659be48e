//! Loss identities: CrossEntropy == NLL(log_softmax) (with class weights), label smoothing 0 is
//! no smoothing, the mean is the sum over the count (with weights, the weighted count).

use crate::cases;
use proptest::prelude::*;
use stensor::loss::{CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, Reduction, SmoothL1Loss};
use stensor::prelude::*;
use stensor::testing::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

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
