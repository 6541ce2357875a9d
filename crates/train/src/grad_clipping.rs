//! `torch.nn.utils.clip_grad_norm_` as an optimiser wrapper.
//!
//! burn's own `GradientClippingConfig::Norm` clips each parameter tensor's
//! gradient separately. PyTorch users clip the norm of all gradients taken
//! together, which keeps the direction of the whole update; that is what
//! [`GlobalNormClipping`] does, before handing the gradients to the wrapped
//! optimiser.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{GradientsParams, LearningRate, MultiGradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};

/// Scales all gradients by `min(1, max_norm / (‖g‖₂ + 1e-6))`, where `‖g‖₂`
/// is the L2 norm of every parameter's gradient concatenated, then steps
/// `inner`; with no `max_norm` it only steps `inner`. The scale stays on the
/// device: clipping adds no host round trip.
#[derive(Clone, Debug)]
pub struct GlobalNormClipping<O> {
    inner: O,
    max_norm: Option<f32>,
}

impl<O> GlobalNormClipping<O> {
    /// Wraps `inner`, clipping to `max_norm` when it is given.
    pub fn new(inner: O, max_norm: Option<f32>) -> Self {
        Self { inner, max_norm }
    }
}

/// Sums the squared gradients of every float parameter.
struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let squares = grad.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// The sum of the squares of every gradient in `grads`, on their device.
fn squared_norm<M: AutodiffModule<B>, B: AutodiffBackend>(
    module: &M,
    grads: &GradientsParams,
) -> Option<Tensor<B::InnerBackend, 1>> {
    let mut norm = SquaredNorm::<B> { grads, total: None };
    module.visit(&mut norm);
    norm.total
}

/// Multiplies every float parameter's gradient by `scale` (shape `[1]`).
struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    scale: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let scale = self.scale.clone().to_device(&grad.device()).reshape([1; D]);
            self.grads.register::<B::InnerBackend, D>(param.id, grad * scale);
        }
    }
}

fn rescale<M: AutodiffModule<B>, B: AutodiffBackend>(
    module: &M,
    grads: &mut GradientsParams,
    scale: Tensor<B::InnerBackend, 1>,
) {
    module.visit(&mut Scale::<B> { grads, scale });
}

impl<M, B, O> Optimizer<M, B> for GlobalNormClipping<O>
where
    M: AutodiffModule<B>,
    B: AutodiffBackend,
    O: Optimizer<M, B>,
{
    type Record = O::Record;

    fn step(&mut self, lr: LearningRate, module: M, mut grads: GradientsParams) -> M {
        if let Some(max_norm) = self.max_norm
            && let Some(squares) = squared_norm(&module, &grads)
        {
            let scale = (squares.sqrt().add_scalar(1e-6).recip() * max_norm).clamp_max(1.0);
            rescale(&module, &mut grads, scale);
        }
        self.inner.step(lr, module, grads)
    }

    /// Gradients spread over several devices: the norm is summed on the host
    /// (one read per device), then every device's gradients are scaled alike.
    fn step_multi(&mut self, lr: LearningRate, module: M, mut grads: MultiGradientsParams) -> M {
        let Some(max_norm) = self.max_norm else { return self.inner.step_multi(lr, module, grads) };
        let squares: Vec<Tensor<B::InnerBackend, 1>> =
            grads.grads.iter().filter_map(|(g, _)| squared_norm(&module, g)).collect();
        if let Some(first) = squares.first() {
            let device = first.device();
            let total: f32 = squares.iter().map(|s| s.clone().into_scalar().elem::<f32>()).sum();
            let factor = (max_norm / (total.sqrt() + 1e-6)).min(1.0);
            let scale = Tensor::<B::InnerBackend, 1>::from_floats([factor], &device);
            for (g, _) in &mut grads.grads {
                rescale(&module, g, scale.clone());
            }
        }
        self.inner.step_multi(lr, module, grads)
    }

    fn to_record(&self) -> Self::Record {
        self.inner.to_record()
    }

    fn load_record(self, record: Self::Record) -> Self {
        Self { inner: self.inner.load_record(record), max_norm: self.max_norm }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::SgdConfig;
    use burn::tensor::Distribution;
    use burn::tensor::backend::Backend;

    type B = Autodiff<NdArray<f32>>;

    /// One SGD step with lr 1 moves the parameters by their (clipped)
    /// gradients, so the step's length is the clipped global norm.
    fn step_length(max_norm: Option<f32>) -> f32 {
        let device = Default::default();
        B::seed(&device, 3);
        let model: Linear<B> = LinearConfig::new(4, 3).init(&device);
        let x = Tensor::<B, 2>::random([5, 4], Distribution::Normal(0.0, 10.0), &device);
        let grads = GradientsParams::from_grads(model.forward(x).powi_scalar(2).sum().backward(), &model);
        let flat = |m: &Linear<B>| -> Vec<f32> {
            let mut v: Vec<f32> = m.weight.val().into_data().to_vec().expect("floats");
            v.extend(m.bias.as_ref().expect("bias").val().into_data().to_vec::<f32>().expect("floats"));
            v
        };
        let before = flat(&model);
        let after = GlobalNormClipping::new(SgdConfig::new().init::<B, Linear<B>>(), max_norm).step(1.0, model, grads);
        before.iter().zip(flat(&after)).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt()
    }

    #[test]
    fn clips_the_global_norm_and_leaves_small_gradients_alone() {
        let unclipped = step_length(None);
        assert!(unclipped > 10.0, "the test needs a large gradient, got {unclipped}");
        let clipped = step_length(Some(1.0));
        assert!((clipped - 1.0).abs() < 1e-4, "clipped step {clipped}");
        let loose = step_length(Some(unclipped * 2.0));
        assert!((loose - unclipped).abs() < 1e-4 * unclipped, "{loose} vs {unclipped}");
    }
}
