use stensor::prelude::*;

fn main() {
    // a picture has 1, 3 or 4 channels
    let x = Tensor::<(U2, U4, U4)>::zeros();
    stensor::vision::save_image(&x, "two.png").unwrap();
}
