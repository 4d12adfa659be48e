use stensor::prelude::*;

fn main() {
    let mut w = stensor::tensorboard::SummaryWriter::new("runs/ui").unwrap();
    // TensorBoard shows grey or RGB pictures
    w.add_image("x", &Tensor::<(U2, U4, U4)>::zeros(), 0);
}
