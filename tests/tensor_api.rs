//! The tensor's constructors, element access, conversions, errors and printing.

use stensor::prelude::*;
use stensor::Error;

#[test]
fn constructors_fill_and_check_lengths() {
    assert_eq!(Tensor::<(U2, U3)>::zeros().to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<(U2, U3), f64>::ones().to_vec(), vec![1.0; 6]);
    assert_eq!(Tensor::<(U2,)>::full(-3.5).to_vec(), vec![-3.5, -3.5]);
    let err = Tensor::<(U2, U3)>::from_vec(vec![1.0; 7]).unwrap_err();
    assert_eq!(
        err,
        Error::Length {
            dims: vec![2, 3],
            found: 7
        }
    );
    assert!(Tensor::<(U2, U3)>::from_slice(&[0.0; 6]).is_ok());
    let e = Tensor::<(usize, U3)>::from_dims_vec(&[2, 4], vec![0.0; 8]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "dimensions [2, 4] do not fit a tensor of shape [usize, 3]"
    );
    let e = Tensor::<(usize, U3)>::from_vec_shaped((2, U3::new()), vec![0.0; 5]).unwrap_err();
    assert!(e.to_string().contains("length 5"), "{e}");
}

#[test]
fn rank_zero_and_rank_five() {
    let s = Tensor::<()>::scalar(4.0);
    assert_eq!((s.item(), s.numel(), s[[]]), (4.0, 1, 4.0));
    assert_eq!(s.to_string(), "tensor(4.)");
    let t = Tensor::<(U1, U2, U1, U3, U2)>::arange();
    assert_eq!(t.numel(), 12);
    assert_eq!(t[[0, 1, 0, 2, 1]], 11.0);
}

#[test]
fn from_fn_visits_indices_in_row_major_order() {
    let t = Tensor::<(U2, U2, U3), f64>::from_fn(|[i, j, k]| (100 * i + 10 * j + k) as f64);
    assert_eq!(
        t.to_vec(),
        vec![0., 1., 2., 10., 11., 12., 100., 101., 102., 110., 111., 112.]
    );
    let mut visited = vec![];
    let _ = Tensor::<(U2, U2)>::from_fn(|idx| {
        visited.push(idx);
        0.0
    });
    assert_eq!(visited, vec![[0, 0], [0, 1], [1, 0], [1, 1]]);
}

#[test]
fn element_access() {
    let mut t = Tensor::<(U2, U3)>::arange();
    assert_eq!(t[[1, 2]], 5.0);
    assert_eq!(t.get([1, 3]), None);
    t.set([0, 1], 9.0);
    assert_eq!(t.get([0, 1]), Some(9.0));
    // copy-on-write: a clone keeps the old value
    let c = t.clone();
    t.as_mut_slice()[0] = 7.0;
    assert_eq!((c[[0, 0]], t[[0, 0]]), (0.0, 7.0));
}

#[test]
#[should_panic(expected = "out of bounds")]
fn indexing_out_of_bounds_panics_with_the_dims() {
    let t = Tensor::<(U2, U3)>::zeros();
    let _ = t[[2, 0]];
}

#[test]
fn random_constructors_are_seeded_and_have_the_right_moments() {
    let a = Tensor::<(U<256>, U<256>), f64>::rand_uniform(7, -1.0, 3.0);
    assert_eq!(
        a.to_vec(),
        Tensor::<(U<256>, U<256>), f64>::rand_uniform(7, -1.0, 3.0).to_vec()
    );
    assert_ne!(
        a.to_vec(),
        Tensor::<(U<256>, U<256>), f64>::rand_uniform(8, -1.0, 3.0).to_vec()
    );
    let v = a.to_vec();
    assert!(v.iter().all(|x| (-1.0..3.0).contains(x)));
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 1.0).abs() < 0.02, "{mean}");
    assert!((var - 16.0 / 12.0).abs() < 0.02, "{var}");
    let g = Tensor::<(U<256>, U<256>), f64>::rand_normal(9, 2.0, 0.5).to_vec();
    let mean = g.iter().sum::<f64>() / n;
    let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 2.0).abs() < 0.01, "{mean}");
    assert!((var - 0.25).abs() < 0.01, "{var}");
}

#[test]
fn casts_between_f32_and_f64() {
    let a = Tensor::<(U3,), f64>::from_array([0.1, 1e-3, 2.5]);
    let b: Tensor<(U3,), f32> = a.cast();
    assert_eq!(b.to_vec(), vec![0.1f32, 1e-3, 2.5]);
    let c: Tensor<(U3,), f64> = b.cast();
    assert!((c[[0]] - 0.1).abs() < 1e-7);
}

#[test]
fn display_matches_pytorch() {
    // Each expected string is PyTorch's print() of the same tensor.
    let t = Tensor::<(U2, U3)>::from_array([[1.0, -2.0, 3.0], [4.0, 5.0, 6.0]]);
    assert_eq!(
        t.to_string(),
        "tensor([[ 1., -2.,  3.],\n        [ 4.,  5.,  6.]])"
    );
    let t = Tensor::<(U2,), f64>::from_array([0.5, 0.25]);
    assert_eq!(t.to_string(), "tensor([0.5000, 0.2500], dtype=f64)");
    let x = Tensor::<(U2,)>::from_array([1.0, 2.5]).trace();
    assert_eq!(
        x.to_string(),
        "tensor([1.0000, 2.5000], requires_grad=True)"
    );
    let big = Tensor::<(U<40>, U<40>)>::arange();
    let s = big.to_string();
    assert!(
        s.starts_with("tensor([[   0.,    1.,    2.,  ...,   37.,   38.,   39.],"),
        "{s}"
    );
    assert!(
        s.ends_with("[1560., 1561., 1562.,  ..., 1597., 1598., 1599.]])"),
        "{s}"
    );
    assert_eq!(s.lines().count(), 7);
}

#[test]
fn debug_is_rust_code_that_rebuilds_the_tensor() {
    let t = Tensor::<(U2, U1), f64>::zeros();
    assert_eq!(
        format!("{t:?}"),
        "Tensor::<(U2, U1), f64>::from_vec(vec![0.0, 0.0]).unwrap()"
    );
    let x = Tensor::<(U1,)>::ones().trace();
    assert_eq!(
        format!("{x:?}"),
        "Tensor::<(U1,), f32>::from_vec(vec![1.0]).unwrap().trace()"
    );
    // every value at full precision, special values as constants, runtime and large dims
    let v = vec![0.1f32, 1.0 / 3.0, f32::NAN, f32::NEG_INFINITY, -0.0, 1e-40];
    let y = Tensor::<(usize, U2048)>::from_vec_shaped((1, U2048::new()), {
        let mut w = v.clone();
        w.resize(2048, 2.5);
        w
    })
    .unwrap();
    let s = format!("{y:?}");
    assert!(
        s.starts_with("Tensor::<(usize, U2048), f32>::from_vec_shaped((1, U2048::new()), vec![0.1, 0.33333334, f32::NAN, f32::NEG_INFINITY, -0.0, 1e-40, 2.5,"),
        "{s}"
    );
    let back = Tensor::<(U2,)>::from_vec(vec![0.1, 0.33333334]).unwrap();
    assert_eq!(back.to_vec(), vec![0.1f32, 1.0 / 3.0]);
    // beyond 4096 elements: the type and the summarised printout
    let big = Tensor::<(U8192,)>::zeros();
    assert!(format!("{big:?}")
        .starts_with("Tensor<(U8192,), f32, NoTape> tensor([0., 0., 0.,  ..., 0., 0., 0.])"));
}

#[test]
fn inference_ops_reuse_a_uniquely_held_buffer() {
    let x = Tensor::<(U<1000>,)>::ones();
    let p = x.as_slice().as_ptr();
    let y = x.exp().mul_scalar(2.0).relu();
    assert_eq!(y.as_slice().as_ptr(), p);
}

#[test]
fn traced_results_only_where_an_input_requires_grad() {
    let c = Tensor::<(U2,), f64>::ones().trace_no_grad();
    let y = c.clone().exp();
    assert!(!y.requires_grad());
    let g = y.sum().backward();
    assert!(g.get(&c).is_none());
    // detach cuts the graph
    let x = Tensor::<(U2,), f64>::ones().trace();
    let z = x.clone().detach().trace_no_grad().square().sum();
    assert!(z.backward().get(&x).is_none());
}

/// Runtime dimensions near `usize::MAX` never wrap to a small element count: the constructors
/// that take data and the `try_` ones return an error naming the shape, the others panic
/// saying so.
#[test]
fn runtime_sizes_near_usize_max_are_errors_not_wrapped_counts() {
    for n in [
        usize::MAX,
        (1 << 62) + 1,
        (1 << 60) + 1,
        usize::MAX / 784 + 1,
    ] {
        let shape = (n, U1::new(), U28::new(), U28::new());
        let e = Tensor::<(usize, U1, U28, U28)>::from_vec_shaped(shape, vec![0.0; 784]);
        let e = e.unwrap_err().to_string();
        assert!(e.contains(&format!("[{n}, 1, 28, 28]")), "{e}");
        let e = Tensor::<(usize, U1, U28, U28)>::from_dims_vec(&[n, 1, 28, 28], vec![0.0; 784]);
        assert!(e.is_err());
        let p = std::panic::catch_unwind(|| Tensor::<(usize, U1, U28, U28)>::zeros_shaped(shape));
        let p = p.unwrap_err();
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(
            msg.contains(&format!(
                "the shape [{n}, 1, 28, 28] has more elements than usize holds"
            )),
            "{msg}"
        );
        // the try_ constructors say it as an error
        let e = Tensor::<(usize, U1, U28, U28)>::try_zeros_shaped(shape).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("a tensor of shape [{n}, 1, 28, 28] has more elements than memory can address")
        );
    }
    // a count that fits usize but not memory: an error, not an abort
    let n = (1usize << 61) / 784;
    let shape = (n, U1::new(), U28::new(), U28::new());
    let e = Tensor::<(usize, U1, U28, U28)>::try_full_shaped(shape, 1.0).unwrap_err();
    assert_eq!(
        e,
        stensor::Error::TooLarge {
            dims: vec![n, 1, 28, 28],
            bytes: Some(n * 784 * 4)
        }
    );
}
