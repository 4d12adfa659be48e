//! Every op's backward rule against central finite differences in f64, through the shared
//! helper `stensor::gradcheck::check_gradients`.

use stensor::gradcheck::{check_gradients, check_gradients_with, GradCheck};
use stensor::prelude::*;

fn rand<S: ConstShape>(seed: u64) -> Tensor<S, f64> {
    Tensor::rand_uniform(seed, -2.0, 2.0)
}

fn positive<S: ConstShape>(seed: u64) -> Tensor<S, f64> {
    Tensor::rand_uniform(seed, 0.5, 3.0)
}

/// Values at least 0.1 away from zero (so |x| and relu are smooth at every point).
fn away_from_zero<S: ConstShape>(seed: u64) -> Tensor<S, f64> {
    let t = Tensor::<S, f64>::rand_uniform(seed, 0.1, 2.0);
    let signs = Tensor::<S, f64>::rand_uniform(seed + 99, -1.0, 1.0);
    Tensor::from_vec(
        t.to_vec()
            .iter()
            .zip(signs.to_vec())
            .map(|(v, s)| if s < 0.0 { -v } else { *v })
            .collect(),
    )
    .unwrap()
}

macro_rules! check {
    ($x:expr, $f:expr) => {
        if let Err(e) = check_gradients($f, &$x) {
            panic!("{}", e);
        }
    };
}

type S3 = (U2, U3, U4);

#[test]
fn unary_ops() {
    let x = rand::<S3>(1);
    let p = positive::<S3>(2);
    let nz = away_from_zero::<S3>(3);
    check!(x, |x| x.neg());
    check!(nz, |x| x.abs());
    check!(x, |x| x.exp());
    check!(p, |x| x.ln());
    check!(p, |x| x.sqrt());
    check!(x, |x| x.square());
    check!(p, |x| x.powf(2.5));
    check!(p, |x| x.powf(-0.5));
    check!(x, |x| x.powf(0.0));
    check!(p, |x| x.recip());
    check!(nz, |x| x.relu());
    check!(x, |x| x.sigmoid());
    check!(x, |x| x.tanh());
    check!(x, |x| x.sin());
    check!(x, |x| x.cos());
    check!(nz, |x| x.clamp(-1.05, 1.05));
    check!(x, |x| x.add_scalar(3.0));
    check!(x, |x| x.sub_scalar(3.0));
    check!(x, |x| x.mul_scalar(-1.5));
    check!(x, |x| x.div_scalar(4.0));
    check!(x, |x| -(x * 2.0 + 1.0 - 0.5) / 3.0);
}

#[test]
fn binary_ops_each_operand() {
    let a = rand::<S3>(10);
    let b = rand::<S3>(11);
    let bp = positive::<S3>(12);
    check!(a, |x| x.add(&b));
    check!(b, |y| a.clone().add(&y));
    check!(a, |x| x.sub(&b));
    check!(b, |y| a.clone().sub(&y));
    check!(a, |x| x.mul(&b));
    check!(b, |y| a.clone().mul(&y));
    check!(a, |x| x.div(&bp));
    check!(bp, |y| a.clone().div(&y));
    check!(a, |x| x.maximum(&b));
    check!(b, |y| a.clone().maximum(&y));
    check!(a, |x| x.minimum(&b));
    check!(b, |y| a.clone().minimum(&y));
    // operators, by value and by reference
    check!(a, |x| x + &b);
    check!(b, |y| &a * &y);
    check!(a, |x| x / bp.clone());
}

#[test]
fn same_tensor_used_twice_accumulates() {
    let a = rand::<S3>(13);
    check!(a, |x| x.clone().mul(&x));
    check!(a, |x| x.clone().add(&x.clone().exp()).mul(&x));
}

/// A sum passes its gradient to both operands as one shared buffer and writes over its left
/// operand's buffer when nothing else holds it: an operand still held keeps its values, and a
/// gradient added later to one operand (here `b`, used again) must not reach the other.
#[test]
fn a_sum_shares_its_gradient_and_never_its_later_additions() {
    let (a, b) = (rand::<S3>(40), rand::<S3>(41));
    let (c, d) = (rand::<S3>(42), rand::<S3>(43));
    let (ta, tb) = (a.clone().trace(), b.clone().trace());
    let held = ta.clone().mul_scalar(1.0);
    let z = held.clone().add(&tb);
    assert_eq!(
        held.to_vec(),
        a.to_vec(),
        "the sum wrote over a held operand"
    );
    let loss = z.mul(&c).sum().add(&tb.clone().mul(&d).sum());
    let grads = loss.backward();
    assert_eq!(grads.get(&ta).unwrap().to_vec(), c.to_vec());
    let want_b: Vec<f64> = c
        .to_vec()
        .iter()
        .zip(d.to_vec())
        .map(|(c, d)| c + d)
        .collect();
    for (g, w) in grads.get(&tb).unwrap().to_vec().iter().zip(&want_b) {
        assert!((g - w).abs() < 1e-15, "{g} vs {w}");
    }
    // x + x, and a sum with one operand untraced
    let tx = a.clone().trace();
    let g = tx.clone().add(&tx).sum().backward();
    assert_eq!(g.get(&tx).unwrap().to_vec(), vec![2.0; 24]);
    let g = tx.clone().add(&b).mul(&c).sum().backward();
    assert_eq!(g.get(&tx).unwrap().to_vec(), c.to_vec());
    check!(a, |x| x.clone().add(&b).mul(&x));
    check!(b, |y| a.clone().add(&y).add(&y.clone().exp()));
}

/// Sigmoid and ReLU compute over their input's buffer when nothing else holds it: an input
/// that is still held (here, used again after the activation) must keep its values, and both
/// uses must get their gradients.
#[test]
fn activations_in_place_leave_a_shared_input_intact() {
    let a = away_from_zero::<S3>(30);
    let av = a.to_vec();
    for relu in [false, true] {
        let t = a.clone().trace();
        let h = t.clone().mul_scalar(1.0);
        let act = if relu {
            h.clone().relu()
        } else {
            h.clone().sigmoid()
        };
        assert_eq!(h.to_vec(), av, "the activation wrote over a held input");
        let shared = act.add(&h).sum().backward();
        // and over a fresh buffer nothing else holds (the product's output): in place
        let fresh = t.clone().mul_scalar(1.0);
        let act = if relu { fresh.relu() } else { fresh.sigmoid() };
        for (got, want) in act.to_vec().iter().zip(act_of(&av, relu)) {
            assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        }
        let alone = act.sum().backward();
        let want = act_of(&av, relu);
        for (i, (&x, &y)) in av.iter().zip(&want).enumerate() {
            let d = if relu {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                y * (1.0 - y)
            };
            let (gs, ga) = (
                shared.get(&t).unwrap().to_vec()[i],
                alone.get(&t).unwrap().to_vec()[i],
            );
            assert!((gs - (d + 1.0)).abs() < 1e-12, "{gs} vs {}", d + 1.0);
            assert!((ga - d).abs() < 1e-12, "{ga} vs {d}");
        }
    }
    check!(a, |x| x.sigmoid());
    check!(a, |x| x.relu());
}

fn act_of(x: &[f64], relu: bool) -> Vec<f64> {
    x.iter()
        .map(|&v| {
            if relu {
                v.max(0.0)
            } else {
                1.0 / (1.0 + (-v).exp())
            }
        })
        .collect()
}

#[test]
fn both_operands_traced_in_one_graph() {
    let a = rand::<(U3, U4)>(20);
    let b = rand::<(U3, U4)>(21);
    let (ta, tb) = (a.clone().trace(), b.clone().trace());
    let grads = ta.clone().mul(&tb).sin().sum().backward();
    // d/da sum(sin(a b)) = cos(a b) b, and symmetric.
    let ab = a.clone().mul(&b).cos();
    let expect_a = ab.clone().mul(&b).to_vec();
    let expect_b = ab.mul(&a).to_vec();
    for (g, e) in grads.get(&ta).unwrap().to_vec().iter().zip(&expect_a) {
        assert!((g - e).abs() < 1e-12);
    }
    for (g, e) in grads.get(&tb).unwrap().to_vec().iter().zip(&expect_b) {
        assert!((g - e).abs() < 1e-12);
    }
}

#[test]
fn parameters_get_gradients_by_id() {
    let x = rand::<(U4, U3)>(30);
    let mut w = rand::<(U3, U2)>(31);
    let untouched = rand::<(U3, U2)>(32);
    w.set_requires_grad(true);
    let grads = x
        .clone()
        .trace_no_grad()
        .matmul(&w)
        .square()
        .sum()
        .backward();
    let gw = grads.get(&w).unwrap();
    // d/dw sum((x w)^2) = 2 x^T (x w)
    let expect = x
        .clone()
        .transpose::<0, 1>()
        .matmul(&x.matmul(&w))
        .mul_scalar(2.0);
    for (g, e) in gw.to_vec().iter().zip(expect.to_vec()) {
        assert!((g - e).abs() < 1e-12);
    }
    assert!(grads.get(&untouched).is_none());
}

#[test]
fn broadcasting() {
    let big = rand::<S3>(40);
    let small = rand::<(U4,)>(41);
    let mid = positive::<(U3, U4)>(42);
    check!(small, |s| s.broadcast::<S3>());
    check!(small, |s| s.broadcast_to((5usize, U4::new())));
    check!(big, |b| b.broadcast_add(&small));
    check!(small, |s| big.clone().broadcast_add(&s));
    check!(big, |b| b.broadcast_sub(&small));
    check!(small, |s| big.clone().broadcast_sub(&s));
    check!(big, |b| b.broadcast_mul(&mid));
    check!(mid, |s| big.clone().broadcast_mul(&s));
    check!(big, |b| b.broadcast_div(&mid));
    check!(mid, |s| big.clone().broadcast_div(&s));
    let scalar = Tensor::<(), f64>::scalar(0.7);
    check!(scalar, |s| big.clone().broadcast_mul(&s));
}

#[test]
fn reductions_over_everything() {
    let x = rand::<S3>(50);
    check!(x, |x| x.sum());
    check!(x, |x| x.mean());
    check!(x, |x| x.max());
    check!(x, |x| x.min());
    check!(x, |x| x.var());
}

#[test]
fn reductions_along_each_axis() {
    let x = rand::<S3>(60);
    check!(x, |x| x.sum_axis::<0>());
    check!(x, |x| x.sum_axis::<1>());
    check!(x, |x| x.sum_axis::<2>());
    check!(x, |x| x.mean_axis::<0>());
    check!(x, |x| x.mean_axis::<2>());
    check!(x, |x| x.max_axis::<0>());
    check!(x, |x| x.max_axis::<1>());
    check!(x, |x| x.min_axis::<2>());
    check!(x, |x| x.var_axis::<1>());
    check!(x, |x| x.var_axis_correction::<2>(0));
    check!(x, |x| x.var_axis::<0>());
}

#[test]
fn max_of_ties_shares_the_gradient() {
    let x = Tensor::<(U4,), f64>::from_array([1.0, 3.0, 3.0, 2.0]).trace();
    let g = x.clone().max().backward();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
    let g = x
        .clone()
        .reshape::<(U1, U4)>()
        .max_axis::<1>()
        .sum()
        .backward();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    let y = Tensor::<(U2,), f64>::from_array([2.0, 2.0]).trace();
    let z = Tensor::<(U2,), f64>::from_array([2.0, 1.0]);
    let g = y.clone().maximum(&z).sum().backward();
    assert_eq!(g.get(&y).unwrap().to_vec(), vec![0.5, 1.0]);
}

#[test]
fn matrix_products() {
    let a = rand::<(U3, U4)>(70);
    let b = rand::<(U4, U5)>(71);
    check!(a, |x| x.matmul(&b));
    check!(b, |y| a.clone().matmul(&y));
    let ba = rand::<(U2, U3, U4)>(72);
    let bb = rand::<(U2, U4, U5)>(73);
    check!(ba, |x| x.matmul(&bb));
    check!(bb, |y| ba.clone().matmul(&y));
    check!(ba, |x| x.matmul(&b));
    check!(b, |y| ba.clone().matmul(&y));
}

#[test]
fn rearrangements() {
    let x = rand::<S3>(80);
    check!(x, |x| x.reshape::<(U6, U4)>());
    check!(x, |x| x.reshape::<(U24,)>().square());
    check!(x, |x| x.flatten::<1, -1>());
    check!(x, |x| x.flatten::<0, 1>().exp());
    check!(x, |x| x.permute::<Axes3<2, 0, 1>>());
    check!(x, |x| x.permute::<Axes3<1, 2, 0>>().sin());
    check!(x, |x| x.transpose::<0, 2>());
    check!(x, |x| x.transpose::<1, 2>().mul_scalar(2.0));
    let y = rand::<(U2, U5, U4)>(81);
    check!(x, |x| x.concat::<1, _, _>(&y));
    check!(y, |y| x.clone().concat::<1, _, _>(&y));
    let z = rand::<(U2, U3, U1)>(82);
    check!(x, |x| x.concat::<2, _, _>(&z).square());
    check!(z, |z| x.clone().concat::<2, _, _>(&z).square());
    check!(x, |x| x.clone().concat::<0, _, _>(&x));
    let x4 = rand::<(U2, U3, U2, U2)>(83);
    check!(x4, |x| x.permute::<Axes4<0, 2, 3, 1>>());
}

#[test]
fn softmax_along_each_axis() {
    let x = rand::<S3>(90);
    check!(x, |x| x.softmax::<0>());
    check!(x, |x| x.softmax::<1>());
    check!(x, |x| x.softmax::<2>());
    check!(x, |x| x.log_softmax::<0>());
    check!(x, |x| x.log_softmax::<2>());
    // large logits stay finite and differentiable
    let big =
        Tensor::<(U2, U3), f64>::from_array([[1000.0, 999.0, -1000.0], [-1000.0, -999.5, -1000.0]]);
    let loose = GradCheck::new(1e-4, 1e-4, 1e-8);
    check_gradients_with(loose, |x| x.log_softmax::<1>(), &big).unwrap();
    check_gradients_with(loose, |x| x.softmax::<1>(), &big).unwrap();
}

#[test]
fn runtime_batch_dimension() {
    let x =
        Tensor::<(usize, U3), f64>::uniform_shaped((5, U3::new()), &mut Rng::seed(100), -1.0, 1.0);
    let w = rand::<(U3, U2)>(101);
    let b = rand::<(U2,)>(102);
    check!(x, |x| x.matmul(&w).broadcast_add(&b).log_softmax::<1>());
    check!(x, |x| x.reshape::<(usize, U3, U1)>().sum_axis::<2>());
    let s = rand::<(U4, U3)>(103);
    check!(s, |x| x.to_dyn_batch().square());
    check!(s, |x| x
        .to_dyn_batch()
        .try_static_batch::<(U4, U3)>()
        .unwrap()
        .exp());
}

#[test]
fn a_deep_chain_backpropagates_without_overflowing() {
    let x = Tensor::<(U1,), f64>::from_array([0.5]).trace();
    let mut y = x.clone();
    for _ in 0..300_000 {
        y = y.mul_scalar(1.0);
    }
    let g = y.sum().backward();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![1.0]);
}

#[test]
fn a_view_shares_its_gradient_with_its_input_until_either_is_added_to() {
    // x is used through a view and directly: the view's gradient must stay its own while x's
    // gathers both contributions (the buffer is shared, then copied on write).
    let x = Tensor::<(U2, U3), f64>::arange().trace();
    let v = x.clone().reshape::<(U3, U2)>().retain_grad();
    let w = v.clone().reshape::<(U6,)>().retain_grad();
    let loss = w.clone().mul_scalar(2.0).sum() + x.clone().mul_scalar(3.0).sum();
    let g = loss.backward();
    assert_eq!(g.get(&w).unwrap().to_vec(), vec![2.0; 6]);
    assert_eq!(g.get(&v).unwrap().to_vec(), vec![2.0; 6]);
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![5.0; 6]);
    // and a view whose input has no other use passes the same values on
    let y = Tensor::<(U2, U3), f64>::arange().trace();
    let g = y.clone().reshape::<(U6,)>().square().sum().backward();
    assert_eq!(
        g.get(&y).unwrap().to_vec(),
        vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    );
}

/// A backward pass frees what the graph saved (PyTorch's default): a step after it updates the
/// weight in its own buffer while the loss still lives, and a second pass panics with a
/// sentence that names the way to keep the graph.
#[test]
fn backward_frees_the_graph_so_a_step_updates_weights_in_place() {
    use stensor::nn::{Forward, Linear};
    use stensor::optim::{Optimizer, SGD};
    let mut r = Rng::seed(1);
    let mut fc = Linear::<U4, U3, f32>::new(&mut r);
    let x = Tensor::<(U2, U4), f32>::rand_uniform(2, -1.0, 1.0);
    let loss = fc.forward(x.trace_no_grad()).square().mean();
    let before = fc.weight.as_slice().as_ptr();
    let grads = loss.backward();
    SGD::new(0.1).step(&mut fc, &grads);
    assert_eq!(
        fc.weight.as_slice().as_ptr(),
        before,
        "the step copied the weight"
    );
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loss.backward()));
    let msg = again.expect_err("a second pass must panic");
    let msg = msg
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| msg.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("backward_retaining_graph"), "{msg}");
}

#[test]
fn a_retained_graph_gives_the_same_gradients_twice() {
    let x = rand::<(U3, U4)>(5).trace();
    let loss = x.clone().tanh().square().sum();
    let a = loss.backward_retaining_graph();
    let b = loss.backward();
    assert_eq!(a.get(&x).unwrap().to_vec(), b.get(&x).unwrap().to_vec());
}

#[test]
fn indexing_and_assembly_ops() {
    let x = rand::<(U3, U5, U4)>(31);
    let idx = Indices::<(U4,)>::from_array([4, 0, 4, 2]);
    let g_idx = Indices::<(U3, U2, U4)>::from_fn_shaped(Default::default(), |ix| {
        ((ix[0] + 2 * ix[1] + 3 * ix[2]) % 5) as i64
    });
    let mask = Mask::<(U5, U4)>::from_fn_shaped(Default::default(), |ix| (ix[0] + ix[1]) % 3 == 0);
    // products with a fixed tensor keep every rule's gradient distinct per element
    let w = rand::<(U3, U5, U4)>(32);
    check!(x, |x| x.narrow::<1, _>(1, 3).square());
    check!(x, |x| x.select::<2>(3).square());
    check!(x, |x| x.index_select::<1, _>(&idx).square());
    check!(x, |x| x.gather::<1, _>(&g_idx).square());
    check!(x, |x| x.flip::<1>().mul(&w));
    check!(x, |x| x.cumsum::<1>().square());
    check!(x, |x| x.tril(-1).mul(&w).triu(-2).square());
    check!(x, |x| x.masked_fill(&mask, 0.5).square());
    check!(x, |x| x.unsqueeze::<1>().squeeze::<1>().mul(&w));
    check!(x, |x| {
        let [a, b] = x.chunk::<2, 2>();
        a.mul(&b.square())
    });
    check!(x, |x| Tensor::stack::<1>(&[x.clone(), x.clone().square()])
        .cumsum::<1>());
    check!(x, |x| Tensor::cat::<2>(&[x.clone().tanh(), x.square()]));
    check!(x, |x| x
        .clone()
        .where_(&x.gt_scalar(0.3), &x.square())
        .mul(&w));
    check!(x, |x| x.sort::<1>(true).0.mul(&w));
    check!(x, |x| x.topk::<2>(3, false).0.square());
    let col = rand::<(U3, U1, U4)>(36);
    check!(col, |c| c
        .expand((U2::new(), U3::new(), U5::new(), U4::new()))
        .square());
    check!(x, |x| x.repeat::<1>(3).square().sum_axis::<1>());
    let c2 = Mask::<(U1, U4)>::from_array([[true, false, true, false]]);
    let o = rand::<(U5, U1)>(35);
    check!(x, |x| x.where_(&c2, &o).mul(&w));
    check!(o, |o| w.clone().where_(&c2, &o).square());
    let src = rand::<(U3, U2, U4)>(33);
    check!(src, |s| Tensor::<(U3, U5, U4), f64>::zeros()
        .scatter_add::<1, _, _>(&g_idx, &s)
        .square());
    check!(x, |x| x.scatter_add::<1, _, _>(&g_idx, &src).square());
    let table = rand::<(U6, U3)>(34);
    let ids = Indices::<(U2, U4)>::from_array([[5, 0, 5, 2], [1, 1, 3, 0]]);
    // (scale_grad_by_freq divides on purpose: not a derivative, checked against PyTorch instead)
    check!(table, |t| t
        .try_embedding(&ids, None, false)
        .unwrap()
        .square());
}

#[test]
fn embedding_layers() {
    use stensor::gradcheck::check_module_gradients;
    use stensor::nn::{Embedding, EmbeddingBag, Forward};
    use stensor::ops::BagMode;
    let ids = Indices::<(U3, U4)>::from_array([[5, 0, 5, 2], [1, 1, 3, 0], [4, 4, 4, 4]]);
    let x = rand::<(U3, U4, U2)>(40);
    // (padding_idx withholds a gradient on purpose, so it is checked against PyTorch instead)
    let mut emb = Embedding::<U6, U2, f64>::new(&mut Rng::seed(4));
    check_module_gradients(&mut emb, &x, |e, x| e.forward(ids.clone().trace()).mul(&x)).unwrap();
    let y = rand::<(U3, U2)>(41);
    for mode in [BagMode::Sum, BagMode::Mean, BagMode::Max] {
        let mut bag = EmbeddingBag::<U6, U2, f64>::new(&mut Rng::seed(5)).mode(mode);
        check_module_gradients(&mut bag, &y, |b, y| b.forward(ids.clone().trace()).mul(&y))
            .unwrap();
    }
    let mut bag = EmbeddingBag::<U6, U2, f64>::new(&mut Rng::seed(6)).mode(BagMode::Sum);
    let w = rand::<(U3, U4)>(42);
    check_module_gradients(&mut bag, &w, |b, w| {
        b.try_forward_weighted(&ids, None, &w).unwrap().square()
    })
    .unwrap();
}
