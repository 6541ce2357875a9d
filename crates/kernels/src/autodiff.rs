//! The recurrence as one node of burn's autodiff graph.
//!
//! Run op by op under [`Autodiff`], a recurrence of `T` steps records a dozen
//! graph nodes per step, and their backward passes allocate full-size
//! gradients for every gate slice and a weight gradient per step. As one node
//! it runs on the inner backend without recording anything, keeps only the
//! activations backpropagation needs, and computes the weight gradient in a
//! single matmul over all steps.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::{Recurrence, RecurrenceInputs, RecurrenceTape, RecurrentBackend};

/// The backward step of [`RecurrentBackend::recurrence`] under autodiff.
/// Parents: `gates_x`, `w_hh`, `initial`, `hh_bias` (a constant stands in when
/// the layer has none).
#[derive(Debug)]
struct RecurrenceBackward;

impl<B: RecurrentBackend> Backward<B, 4> for RecurrenceBackward {
    type State = RecurrenceTape<B>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = wrap::<B, 3>(grads.consume::<B>(&ops.node));
        let d = B::recurrence_backward(ops.state, grad);
        let [gates_x, w_hh, initial, hh_bias] = ops.parents;
        if let Some(node) = gates_x {
            grads.register::<B>(node.id, d.gates_x.into_primitive().tensor());
        }
        if let Some(node) = w_hh {
            grads.register::<B>(node.id, d.w_hh.into_primitive().tensor());
        }
        if let Some(node) = initial {
            grads.register::<B>(node.id, d.initial.into_primitive().tensor());
        }
        if let (Some(node), Some(d_bias)) = (hh_bias, d.hh_bias) {
            grads.register::<B>(node.id, d_bias.into_primitive().tensor());
        }
    }
}

impl<B: RecurrentBackend, C: CheckpointStrategy> RecurrentBackend for Autodiff<B, C> {
    fn recurrence(spec: &Recurrence, inputs: RecurrenceInputs<Self>) -> Tensor<Self, 3> {
        let RecurrenceInputs { gates_x, w_hh, hh_bias, initial } = inputs;
        let device = gates_x.device();
        let has_bias = hh_bias.is_some();
        let bias = hh_bias.unwrap_or_else(|| Tensor::zeros([1], &device));
        let [gates_x, w_hh, initial, bias] = [
            gates_x.into_primitive().tensor(),
            w_hh.into_primitive().tensor(),
            initial.into_primitive().tensor(),
            bias.into_primitive().tensor(),
        ];
        let nodes = [gates_x.node.clone(), w_hh.node.clone(), initial.node.clone(), bias.node.clone()];
        let inputs = RecurrenceInputs {
            gates_x: wrap::<B, 3>(gates_x.primitive),
            w_hh: wrap::<B, 2>(w_hh.primitive),
            hh_bias: has_bias.then(|| wrap::<B, 1>(bias.primitive)),
            initial: wrap::<B, 3>(initial.primitive),
        };
        let output = match RecurrenceBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (output, tape) = B::recurrence_forward(spec, inputs);
                prep.finish(tape, output.into_primitive().tensor())
            }
            OpsKind::UnTracked(prep) => prep.finish(B::recurrence(spec, inputs).into_primitive().tensor()),
        };
        wrap(output)
    }
}

/// A float primitive of backend `B` as a tensor.
fn wrap<B: Backend, const D: usize>(primitive: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}
