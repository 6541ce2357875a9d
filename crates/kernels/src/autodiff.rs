//! The recurrence as one node of burn's autodiff graph.
//!
//! Run op by op under [`Autodiff`], a recurrence of `T` steps records a dozen
//! graph nodes per step, and their backward passes allocate full-size
//! gradients for every gate slice and a weight gradient per step. As one node
//! it runs on the inner backend without recording anything, keeps only the
//! activations backpropagation needs, and computes the weight gradient in a
//! single matmul over all steps.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::{Recurrence, RecurrenceInputs, RecurrenceTape, RecurrentBackend};

/// The backward step of [`RecurrentBackend::recurrence`] under autodiff.
/// Parents: `gates_x`, `bias`, `w_hh`, `hh_bias`, `initial` (a constant
/// stands in for an absent bias).
#[derive(Debug)]
struct RecurrenceBackward;

impl<B: RecurrentBackend> Backward<B, 5> for RecurrenceBackward {
    type State = RecurrenceTape<B>;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = wrap::<B, 3>(grads.consume::<B>(&ops.node));
        let d = B::recurrence_backward(ops.state, grad);
        let [gates_x, bias, w_hh, hh_bias, initial] = ops.parents;
        let mut register = |node: Option<NodeId>, grad: Option<FloatTensor<B>>| {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node, grad);
            }
        };
        register(gates_x.map(|n| n.id), Some(d.gates_x.into_primitive().tensor()));
        register(bias.map(|n| n.id), d.bias.map(|b| b.into_primitive().tensor()));
        register(w_hh.map(|n| n.id), Some(d.w_hh.into_primitive().tensor()));
        register(hh_bias.map(|n| n.id), d.hh_bias.map(|b| b.into_primitive().tensor()));
        register(initial.map(|n| n.id), Some(d.initial.into_primitive().tensor()));
    }
}

impl<B: RecurrentBackend, C: CheckpointStrategy> RecurrentBackend for Autodiff<B, C> {
    fn recurrence(spec: &Recurrence, inputs: RecurrenceInputs<Self>) -> Tensor<Self, 3> {
        let RecurrenceInputs { gates_x, bias, w_hh, hh_bias, initial } = inputs;
        let device = gates_x.device();
        let (has_bias, has_hh_bias) = (bias.is_some(), hh_bias.is_some());
        let constant = || Tensor::<Self, 1>::zeros([1], &device);
        let [gates_x, bias, w_hh, hh_bias, initial] = [
            gates_x.into_primitive().tensor(),
            bias.unwrap_or_else(constant).into_primitive().tensor(),
            w_hh.into_primitive().tensor(),
            hh_bias.unwrap_or_else(constant).into_primitive().tensor(),
            initial.into_primitive().tensor(),
        ];
        let nodes =
            [gates_x.node.clone(), bias.node.clone(), w_hh.node.clone(), hh_bias.node.clone(), initial.node.clone()];
        let inputs = RecurrenceInputs {
            gates_x: wrap::<B, 3>(gates_x.primitive),
            bias: has_bias.then(|| wrap::<B, 1>(bias.primitive)),
            w_hh: wrap::<B, 2>(w_hh.primitive),
            hh_bias: has_hh_bias.then(|| wrap::<B, 1>(hh_bias.primitive)),
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
