//! The CIFAR-10 `SimpleCNN` from the PyTorch tutorial, layer for layer.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use kindling_layers::{Conv2d, Conv2dConfig, Linear, LinearConfig, MaxPool2d, MaxPool2dConfig, Relu, padding};

/// Builds a [`SimpleCnn`]. The defaults are the PyTorch original:
///
/// ```python
/// class SimpleCNN(nn.Module):
///     def __init__(self):
///         super().__init__()
///         self.conv = nn.Conv2d(3, 16, 3, padding=1)
///         self.pool = nn.MaxPool2d(2, 2)
///         self.fc = nn.Linear(16 * 16 * 16, 10)
///     def forward(self, x):
///         x = self.pool(F.relu(self.conv(x)))
///         return self.fc(x.view(x.size(0), -1))
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct SimpleCnnConfig {
    /// Input channels (3 for RGB).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Feature maps produced by the convolution.
    #[config(default = 16)]
    pub conv_channels: usize,
    /// Side of the square input images; must be even (the pooling halves it).
    #[config(default = 32)]
    pub image_size: usize,
    /// Output classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// `Conv2d(3→16, k3, p1) → ReLU → MaxPool2d(2, 2) → flatten → Linear(16·16·16 → 10)`.
///
/// Parameters are initialised as PyTorch does (see `kindling_layers`) and the
/// flatten order is PyTorch's `view(B, -1)` over `[C, H, W]`, so weights map
/// one to one between the two.
#[derive(Module, Debug)]
pub struct SimpleCnn<B: Backend> {
    /// The 3×3 convolution, padding 1.
    pub conv: Conv2d<B>,
    /// The 2×2 max pooling, stride 2.
    pub pool: MaxPool2d,
    /// The classifier.
    pub fc: Linear<B>,
    activation: Relu,
}

impl SimpleCnnConfig {
    /// Creates the model with freshly initialised parameters on `device`.
    ///
    /// # Panics
    ///
    /// If `image_size` is odd, a size the pooling cannot halve exactly; the
    /// command line validates it first.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SimpleCnn<B> {
        assert!(self.image_size.is_multiple_of(2), "SimpleCnn needs an even image size, got {}", self.image_size);
        let pooled = self.image_size / 2;
        SimpleCnn {
            conv: Conv2dConfig::new([self.in_channels, self.conv_channels], [3, 3])
                .with_padding(padding(1))
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc: LinearConfig::new(self.conv_channels * pooled * pooled, self.num_classes).init(device),
            activation: Relu::new(),
        }
    }
}

impl<B: Backend> SimpleCnn<B> {
    /// Maps images `[batch, channels, size, size]` to logits `[batch, classes]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.pool.forward(self.activation.forward(self.conv.forward(images)));
        self.fc.forward(x.flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    #[test]
    fn shapes_and_parameter_count_match_pytorch() {
        let model = SimpleCnnConfig::new().init::<B>(&Default::default());
        let logits = model.forward(Tensor::zeros([5, 3, 32, 32], &Default::default()));
        assert_eq!(logits.dims(), [5, 10]);
        // PyTorch: 3*16*9 + 16 + 4096*10 + 10 = 41,418
        assert_eq!(model.num_params(), 41_418);
    }

    #[test]
    fn forward_is_conv_relu_pool_linear() {
        // Hand-set weights: the conv copies channel 0 with weight 1 at the centre.
        let device = Default::default();
        let mut model = SimpleCnnConfig::new()
            .with_in_channels(1)
            .with_conv_channels(1)
            .with_image_size(4)
            .with_num_classes(1)
            .init::<B>(&device);
        let mut kernel = [[[[0.0f32; 3]; 3]; 1]; 1];
        kernel[0][0][1][1] = 1.0;
        model.conv.weight = model.conv.weight.map(|_| Tensor::from_floats(kernel, &device));
        model.conv.bias = model.conv.bias.map(|b| b.map(|_| Tensor::from_floats([-1.0], &device)));
        model.fc.weight = model.fc.weight.map(|_| Tensor::from_floats([[1.0], [10.0], [100.0], [1000.0]], &device));
        model.fc.bias = model.fc.bias.map(|b| b.map(|_| Tensor::from_floats([0.5], &device)));
        let x = Tensor::<B, 4>::from_floats(
            [[[[0.0, 3.0, 1.0, 1.0], [1.0, 0.0, 1.0, 5.0], [-4.0, -2.0, 0.0, 0.0], [-1.0, -3.0, 0.0, 2.0]]]],
            &device,
        );
        // conv - 1 then relu: max per 2x2 block = [2, 4, 0, 1]
        let y: Vec<f32> = model.forward(x).into_data().to_vec().expect("floats");
        assert_eq!(y, vec![2.0 + 40.0 + 0.0 + 1000.0 + 0.5]);
    }
}
