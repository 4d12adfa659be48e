//! Laws of the recurrent layers, over random runtime batch sizes and lengths: a one-layer
//! unidirectional layer is its cell unrolled; the reverse direction is the forward direction
//! on the reversed sequence; a packed sequence of length `l` gets what it would get alone,
//! truncated to `l`.

use proptest::prelude::*;
use stensor::nn::{Forward, LSTMCell, SeqFirst, GRU, LSTM, RNN};
use stensor::prelude::*;
use stensor::testing::*;

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn a_one_layer_lstm_is_its_cell_unrolled(
        x in any_tensor_f64::<(usize, usize, U3)>().sizes(1, 6),
        cell in any_module(LSTMCell::<U3, U4, f64>::new),
    ) {
        let cell = cell.module;
        let mut lstm = LSTM::<U3, U4, U1, U1, SeqFirst, U0, f64>::new(&mut stensor::tensor::Rng::seed(0));
        let w = &mut lstm.layers.first[0];
        w.weight_ih = cell.weight_ih.clone();
        w.weight_hh = cell.weight_hh.clone();
        w.bias_ih = cell.bias_ih.clone();
        w.bias_hh = cell.bias_hh.clone();
        let (y, (h_n, c_n)) = lstm.forward(x.clone());
        let (steps, n, _) = x.shape();
        let mut state = cell.forward(x.clone().select::<0>(0));
        let mut outs = vec![state.0.clone()];
        for t in 1..steps {
            state = cell.forward((x.clone().select::<0>(t), state));
            outs.push(state.0.clone());
        }
        close(&y, &Tensor::stack::<0>(&outs).reshape(), Tolerance::ROUNDING)?;
        let h_n: Tensor<(usize, U4), f64> = h_n.reshape();
        let c_n: Tensor<(usize, U4), f64> = c_n.reshape();
        prop_assert_eq!(h_n.dims()[0], n);
        close(&h_n, &state.0, Tolerance::ROUNDING)?;
        close(&c_n, &state.1, Tolerance::ROUNDING)?;
    }

    #[test]
    fn the_reverse_direction_is_the_forward_one_on_the_reversed_sequence(
        x in any_tensor_f64::<(usize, usize, U3)>().sizes(1, 6),
        bi in any_module(GRU::<U3, U4, U1, U2, SeqFirst, f64>::new),
    ) {
        let bi = bi.module;
        let mut uni = GRU::<U3, U4, U1, U1, SeqFirst, f64>::new(&mut stensor::tensor::Rng::seed(0));
        uni.layers.first[0] = bi.layers.first[1].clone();
        let (y, h) = bi.forward(x.clone());
        let (yr, hr) = uni.forward(x.flip::<0>());
        // the reverse half of the outputs, and the reverse direction's final state
        let back: Tensor<(usize, usize, U4), f64> = y.narrow::<2, U4>(4, U4::new());
        close(&back, &yr.flip::<0>(), Tolerance::ROUNDING)?;
        close(&h.select::<0>(1), &hr.select::<0>(0), Tolerance::ROUNDING)?;
    }

    #[test]
    fn a_packed_sequence_gets_what_it_gets_alone(
        x in any_tensor_f64::<(usize, usize, U3)>().sizes(1, 6),
        cut in prop::collection::vec(0.0f64..1.0, 6),
        rnn in any_module(RNN::<U3, U4, U2, U2, SeqFirst, f64>::new),
        lstm in any_module(LSTM::<U3, U4, U1, U2, SeqFirst, U2, f64>::new),
    ) {
        let (rnn, lstm) = (rnn.module, lstm.module);
        let (steps, n, _) = x.shape();
        let lengths: Vec<i64> = (0..n).map(|b| 1 + (cut[b] * steps as f64) as i64 % steps as i64).collect();
        let (y, h) = rnn.forward_packed(x.clone(), &lengths, None).unwrap();
        let (ly, (lh, lc)) = lstm.forward_packed(x.clone(), &lengths, None).unwrap();
        for (b, &len) in lengths.iter().enumerate() {
            let len = len as usize;
            // sequence b alone, its first `len` steps
            let alone = x.clone().narrow::<1, usize>(b, 1).narrow::<0, usize>(0, len);
            let (ya, ha) = rnn.forward(alone.clone());
            let (lya, (lha, lca)) = lstm.forward(alone);
            let mine = y.clone().narrow::<1, usize>(b, 1);
            close(&mine.clone().narrow::<0, usize>(0, len), &ya, Tolerance::ROUNDING)?;
            let lmine = ly.clone().narrow::<1, usize>(b, 1);
            close(&lmine.clone().narrow::<0, usize>(0, len), &lya, Tolerance::ROUNDING)?;
            // past its length: zeros
            let rest = mine.narrow::<0, usize>(len, steps - len);
            let lrest = lmine.narrow::<0, usize>(len, steps - len);
            prop_assert!(rest.as_slice().iter().chain(lrest.as_slice()).all(|&v| v == 0.0));
            close(&h.clone().narrow::<1, usize>(b, 1), &ha, Tolerance::ROUNDING)?;
            close(&lh.clone().narrow::<1, usize>(b, 1), &lha, Tolerance::ROUNDING)?;
            close(&lc.clone().narrow::<1, usize>(b, 1), &lca, Tolerance::ROUNDING)?;
        }
    }
}
