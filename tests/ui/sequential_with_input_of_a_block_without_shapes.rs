// A network that names its input for the printout with shapes, holding a block whose `forward`
// is hand-written and whose struct does not say how its fields chain.
use stensor::nn::*;
use stensor::prelude::*;

#[derive(Module)]
struct Block {
    conv: Conv2d<U4, U4, U3, U1, U1>,
    act: ReLU,
}

impl<B: Dim, T: TapeMode<f32>> Forward<Tensor<(B, U4, U8, U8), f32, T>> for Block {
    type Output = Tensor<(B, U4, U8, U8), f32, T>;
    fn forward(&self, x: Tensor<(B, U4, U8, U8), f32, T>) -> Self::Output {
        self.act.forward(self.conv.forward(x))
    }
}

#[derive(Module)]
#[module(sequential, input = Tensor<(usize, U4, U8, U8)>)]
struct Net {
    block: Block,
    flat: Flatten,
}

fn main() {}
