//! Shared helpers of the PyTorch parity tests: reading `tests/reference/*.json` (copied from the
//! project's reference set; see `tests/reference/FORMAT.md`) and comparing with tolerances.

#![allow(dead_code)]

use serde_json::Value;
use stensor::autograd::UniqueId;
use stensor::nn::Module;
use stensor::prelude::*;
use stensor::tensor::ValuesMut;

/// One reference case.
pub struct Case(pub Value);

/// The cases of `tests/reference/<family>.json`.
pub fn cases(family: &str) -> Vec<Case> {
    let path = format!(
        "{}/tests/reference/{family}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .cloned()
        .map(Case)
        .collect()
}

/// The case called `name` in `family`.
pub fn case(family: &str, name: &str) -> Case {
    cases(family)
        .into_iter()
        .find(|c| c.0["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {family}.json"))
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().expect("number")).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("not numbers: {v}"),
    }
}

impl Case {
    pub fn name(&self) -> &str {
        self.0["name"].as_str().unwrap()
    }
    pub fn config(&self) -> &Value {
        &self.0["config"]
    }
    fn tensor_json(&self, path: &[&str]) -> &Value {
        let mut v = &self.0;
        for p in path {
            v = &v[*p];
        }
        assert!(!v.is_null(), "{}: no {:?}", self.name(), path);
        v
    }
    /// The flat data at `path` (e.g. `["grads", "weight"]`).
    pub fn data(&self, path: &[&str]) -> Vec<f64> {
        floats(&self.tensor_json(path)["data"])
    }
    /// The dims at `path`.
    pub fn dims(&self, path: &[&str]) -> Vec<usize> {
        self.tensor_json(path)["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    }
    /// The tensor at `path` as a `Tensor<S, E>`; its dims must be `S`'s.
    pub fn tensor<S: Shape, E: Element>(&self, path: &[&str]) -> Tensor<S, E> {
        let data = self.data(path).into_iter().map(E::from_f64).collect();
        Tensor::from_dims_vec(&self.dims(path), data)
            .unwrap_or_else(|e| panic!("{} {:?}: {e}", self.name(), path))
    }
    pub fn has(&self, path: &[&str]) -> bool {
        let mut v = &self.0;
        for p in path {
            v = &v[*p];
        }
        !v.is_null()
    }
}

/// Tolerances: f64 to 1e-10 relative; f32 to 1e-4 relative plus 1e-5 absolute (FORMAT.md).
pub fn tol<E: Element>() -> (f64, f64) {
    if E::NAME == "f64" {
        (1e-10, 1e-12)
    } else {
        (1e-4, 1e-5)
    }
}

/// Panics unless `got` matches `want` within the element type's tolerance, naming the case,
/// what was compared and the worst element.
pub fn assert_close<E: Element>(what: &str, got: &[E], want: &[f64]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    let (rtol, atol) = tol::<E>();
    let mut worst = (0.0, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let g = g.as_f64();
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if excess > worst.0 || g.is_nan() != w.is_nan() {
            worst = (excess.max(f64::MIN_POSITIVE), i);
        }
    }
    if worst.0 > 0.0 {
        let i = worst.1;
        panic!(
            "{what} ({}): element {i}: got {}, expected {}",
            E::NAME,
            got[i].as_f64(),
            want[i]
        );
    }
}

/// Runs `f` on the case's input `x` traced, backpropagates the case's `grad_output`, and checks
/// the output, the input gradient (when the case has one) and each named parameter's gradient.
pub fn check_forward_backward<SX, SO, E, F>(c: &Case, f: F, params: &[(&str, UniqueId)])
where
    SX: Shape,
    SO: Shape,
    E: Element,
    F: FnOnce(Tensor<SX, E, Tape<E>>) -> Tensor<SO, E, Tape<E>>,
{
    let x = c.tensor::<SX, E>(&["inputs", "x"]).trace();
    let y = f(x.clone());
    assert_eq!(
        &y.dims()[..],
        &c.dims(&["output"])[..],
        "{}: output dims",
        c.name()
    );
    assert_close(
        &format!("{} output", c.name()),
        y.as_slice(),
        &c.data(&["output"]),
    );
    let go = c
        .data(&["grad_output"])
        .into_iter()
        .map(E::from_f64)
        .collect();
    let grads = y.backward_with(&Tensor::from_vec_shaped(y.shape(), go).unwrap());
    if c.has(&["grads", "x"]) {
        let gx = grads.get(&x).expect("input gradient");
        assert_close(
            &format!("{} grad x", c.name()),
            gx.as_slice(),
            &c.data(&["grads", "x"]),
        );
    }
    for (name, id) in params {
        let g = grads
            .by_id(*id)
            .unwrap_or_else(|| panic!("{}: no gradient for {name}", c.name()));
        assert_close(
            &format!("{} grad {name}", c.name()),
            g,
            &c.data(&["grads", name]),
        );
    }
}

/// The gradient a layer reports for a parameter equals the central finite difference of the
/// loss in that parameter (f64, step 1e-6).
pub fn param_fd<SP: ConstShape>(
    p: &Tensor<SP, f64>,
    loss: impl Fn(&Tensor<SP, f64>) -> f64,
    analytic: &[f64],
    what: &str,
) {
    let eps = 1e-6;
    let base = p.to_vec();
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let num = (loss(&Tensor::from_vec(plus).unwrap())
            - loss(&Tensor::from_vec(minus).unwrap()))
            / (2.0 * eps);
        assert!(
            (num - analytic[i]).abs() <= 1e-7 + 1e-5 * num.abs(),
            "{what}: parameter element {i}: numeric {num}, analytic {}",
            analytic[i]
        );
    }
}

/// Builds `$layer` from the case's `weight` (and `bias`, if present) with `from_params` and
/// checks it with [`check_forward_backward`] for input `$x` and output `$y`.
#[macro_export]
macro_rules! check_with_params {
    ($c:expr, $E:ty, $layer:ty, $x:ty, $y:ty) => {{
        let c: &$crate::common::Case = $c;
        let w = c.tensor::<_, $E>(&["params", "weight"]);
        let b = c
            .has(&["params", "bias"])
            .then(|| c.tensor::<_, $E>(&["params", "bias"]));
        let layer = <$layer>::from_params(w, b);
        let mut params = vec![("weight", layer.weight.id())];
        if let Some(b) = &layer.bias {
            params.push(("bias", b.id()));
        }
        $crate::common::check_forward_backward::<$x, $y, $E, _>(c, |x| layer.forward(x), &params);
    }};
}

/// Sets the module's parameters to the case's, by name; the names must be exactly PyTorch's.
pub fn load<M: Module>(m: &mut M, c: &Case) {
    let mut seen = vec![];
    m.visit_mut("", &mut |name, t| {
        let want = c.data(&["params", name]);
        assert_eq!(
            &t.dims[..],
            &c.dims(&["params", name])[..],
            "{}: {name}",
            c.name()
        );
        match t.values {
            ValuesMut::F32(v) => v.iter_mut().zip(&want).for_each(|(a, &b)| *a = b as f32),
            ValuesMut::F64(v) => v.copy_from_slice(&want),
            ValuesMut::I64(_) => panic!("{name}: not a float parameter"),
        }
        seen.push(name.to_string());
    });
    let mut names: Vec<String> = c.0["params"].as_object().unwrap().keys().cloned().collect();
    names.sort();
    seen.sort();
    assert_eq!(seen, names, "{}: parameter names", c.name());
}

/// `sum(y * g)` for the case's upstream gradient at `path`.
pub fn weighted<S: Shape, E: Element>(
    y: &Tensor<S, E, Tape<E>>,
    c: &Case,
    path: &[&str],
) -> Tensor<(), E, Tape<E>> {
    let g = Tensor::from_vec_shaped(
        y.shape(),
        c.data(path).into_iter().map(E::from_f64).collect(),
    )
    .unwrap();
    y.clone().mul(&g).sum()
}

/// Checks the gradient of every parameter against the case's.
pub fn check_params<M: Module>(m: &M, g: &Gradients<impl Element>, c: &Case) {
    m.visit("", &mut |name, t| {
        let got = g
            .by_id(t.id.unwrap())
            .unwrap_or_else(|| panic!("{}: no gradient for {name}", c.name()));
        assert_close(
            &format!("{} grad {name}", c.name()),
            got,
            &c.data(&["grads", name]),
        );
    });
}
