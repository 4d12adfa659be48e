//! `Dropout` and `Dropout2d` (PyTorch's `nn.Dropout(p=0.5)`, `nn.Dropout2d`): in training each
//! element (or each whole channel) is zeroed with probability `p` and the rest scaled by
//! `1 / (1 - p)`; in evaluation they pass the input through. Masks come from the layer's seeded
//! generator.

use super::repr::py_float;
use super::{Forward, Module};
use crate::autograd::TapeMode;
use crate::shape::Shape;
use crate::tensor::{Element, Rng, Tensor};
use std::sync::Mutex;

macro_rules! dropout_layer {
    ($(#[$doc:meta])* $name:ident, $op:ident) => {
        $(#[$doc])*
        #[derive(Debug, Module)]
        #[module(leaf, extra_repr = repr)]
        pub struct $name {
            p: f64,
            #[module(training)]
            training: bool,
            rng: Mutex<Rng>,
        }

        impl $name {
            /// Zeroes with probability `p`, drawing masks from a generator seeded with `seed`.
            ///
            #[doc = concat!("```\nlet d = stensor::nn::", stringify!($name), "::new(0.1, 7);\nassert_eq!(d.p(), 0.1);\n```")]
            ///
            /// # Panics
            /// If `p` is not in `[0, 1]` (PyTorch raises too).
            pub fn new(p: f64, seed: u64) -> Self {
                assert!((0.0..=1.0).contains(&p), "dropout probability has to be between 0 and 1, but got {p}");
                $name { p, training: true, rng: Mutex::new(Rng::seed(seed)) }
            }
            /// The probability of zeroing.
            ///
            #[doc = concat!("```\nassert_eq!(stensor::nn::", stringify!($name), "::new(0.2, 0).p(), 0.2);\n```")]
            pub fn p(&self) -> f64 { self.p }
            /// Training mode: masks applied.
            ///
            #[doc = concat!("```\nlet mut d = stensor::nn::", stringify!($name), "::new(0.2, 0);\nd.eval();\nd.train();\nassert!(d.is_training());\n```")]
            pub fn train(&mut self) { self.training = true; }
            /// Evaluation mode: identity.
            ///
            #[doc = concat!("```\nuse stensor::prelude::*;\nuse stensor::nn::Forward;\nlet mut d = stensor::nn::", stringify!($name), "::new(0.9, 0);\nd.eval();\nassert_eq!(d.forward(Tensor::<(U1, U2, U2)>::ones()).to_vec(), vec![1.0; 4]);\n```")]
            pub fn eval(&mut self) { self.training = false; }
            /// Whether the layer is in training mode (it starts in it).
            ///
            #[doc = concat!("```\nassert!(stensor::nn::", stringify!($name), "::new(0.5, 0).is_training());\n```")]
            pub fn is_training(&self) -> bool { self.training }
            /// PyTorch's `extra_repr`.
            fn repr(&self) -> String { format!("p={}, inplace=False", py_float(self.p)) }
        }

        impl Default for $name {
            /// `p = 0.5`, seed 0.
            fn default() -> Self { $name::new(0.5, 0) }
        }

        impl Clone for $name {
            fn clone(&self) -> Self {
                $name { p: self.p, training: self.training, rng: Mutex::new(self.rng.lock().expect("dropout generator").clone()) }
            }
        }

        impl<S: Shape, E: Element, T: TapeMode<E>> Forward<Tensor<S, E, T>> for $name {
            type Output = Tensor<S, E, T>;
            fn forward(&self, x: Tensor<S, E, T>) -> Self::Output {
                let mut rng = self.rng.lock().expect("dropout generator");
                x.$op(self.p, self.training, &mut rng)
            }
        }
    };
}

dropout_layer!(
    /// Elementwise dropout.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Dropout, Forward};
    /// let mut d = Dropout::new(0.5, 1);
    /// let y = d.forward(Tensor::<(U<1000>,), f64>::ones());
    /// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
    /// d.eval();
    /// assert_eq!(d.forward(Tensor::<(U3,)>::ones()).to_vec(), vec![1.0; 3]);
    /// ```
    Dropout, dropout
);
dropout_layer!(
    /// Channel dropout over `(N, C, ...)`: each `(n, c)` channel is kept or zeroed whole.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::nn::{Dropout2d, Forward};
    /// let d = Dropout2d::new(0.5, 3);
    /// let y = d.forward(Tensor::<(U2, U8, U3, U3)>::ones());
    /// for ch in y.to_vec().chunks(9) {
    ///     assert!(ch.iter().all(|&v| v == ch[0]));
    /// }
    /// ```
    Dropout2d, dropout2d
);
