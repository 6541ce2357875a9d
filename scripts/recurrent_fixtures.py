"""Golden fixtures for Kindling's recurrent layers, computed by PyTorch itself.

Each case builds a torch.nn recurrent layer (nn.RNN with tanh or relu,
nn.LSTM, nn.GRU; the file name's first word says which) with seeded random
weights, runs it on a seeded input (packed with pack_padded_sequence when the
case has lengths), back-propagates
loss = sum(output * U_out) + sum(h_n * U_h) [+ sum(c_n * U_c) for LSTM]
with seeded U tensors, and writes one safetensors file holding the parameters
under their PyTorch names, the input, lengths, initial state, upstream tensors,
outputs, final states and every gradient (`grad.<name>`), and `config` =
[input_size, hidden_size, num_layers, bidirectional, batch_first, bias].
Running the script again rewrites identical bytes. The script pins PyTorch's
kernels to their generic CPU code path and MKL to its conditional-numerical-
reproducibility mode: without the pins, the vectorised kernels PyTorch picks
for each processor made two fixtures differ in the last bit between two
machines.

    ~/.cache/kindling/torch-2.9.0/bin/python scripts/recurrent_fixtures.py
"""

import os
import pathlib

# Before torch is imported: the same kernels, and so the same bits, on every CPU.
os.environ["ATEN_CPU_CAPABILITY"] = "default"
os.environ["MKL_CBWR"] = "COMPATIBLE"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "layers" / "tests" / "fixtures"

CASES = [
    # name, input, hidden, layers, bidirectional, batch_first, bias, steps, batch, lengths
    ("lstm_1layer_seq_first", 5, 4, 1, False, False, True, 6, 3, None),
    ("lstm_1layer_batch_first", 5, 4, 1, False, True, True, 6, 3, None),
    ("lstm_2layer_bidirectional_lengths", 3, 4, 2, True, True, True, 7, 4, [7, 3, 1, 5]),
    ("lstm_2layer_no_bias_seq_first_lengths", 4, 3, 2, False, False, False, 5, 3, [2, 5, 4]),
    ("rnn_tanh_1layer", 5, 4, 1, False, False, True, 6, 3, None),
    ("rnn_relu_2layer_bidirectional_lengths", 3, 4, 2, True, True, True, 7, 4, [7, 3, 1, 5]),
    ("gru_2layer", 4, 5, 2, False, False, True, 6, 3, None),
    ("gru_2layer_bidirectional_lengths", 3, 4, 2, True, True, True, 7, 4, [2, 7, 5, 1]),
    ("gru_1layer_no_bias_lengths", 4, 3, 1, False, False, False, 5, 3, [5, 2, 4]),
]


def module(name, input_size, hidden, **options):
    kind = name.split("_")[0]
    if kind == "rnn":
        return torch.nn.RNN(input_size, hidden, nonlinearity=name.split("_")[1], **options)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](input_size, hidden, **options)


def build(seed, name, input_size, hidden, layers, bidirectional, batch_first, bias, steps, batch, lengths):
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float32)

    rnn = module(name, input_size, hidden, num_layers=layers, bias=bias,
                 batch_first=batch_first, bidirectional=bidirectional)
    is_lstm = isinstance(rnn, torch.nn.LSTM)
    with torch.no_grad():
        for parameter in rnn.parameters():
            parameter.copy_(randn(*parameter.shape) * 0.5)
    directions = 2 if bidirectional else 1
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = randn(*shape).requires_grad_(True)
    h0 = (randn(layers * directions, batch, hidden) * 0.5).requires_grad_(True)
    c0 = (randn(layers * directions, batch, hidden) * 0.5).requires_grad_(True) if is_lstm else None
    state = (h0, c0) if is_lstm else h0

    if lengths is None:
        output, state_n = rnn(x, state)
    else:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        output, state_n = rnn(packed, state)
        output, _ = pad_packed_sequence(output, batch_first=batch_first, total_length=steps)
    h_n, c_n = state_n if is_lstm else (state_n, None)

    u_out, u_h = randn(*output.shape), randn(*h_n.shape)
    loss = (output * u_out).sum() + (h_n * u_h).sum()
    if is_lstm:
        u_c = randn(*c_n.shape)
        loss = loss + (c_n * u_c).sum()
    loss.backward()

    tensors = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    tensors.update({
        "input": x.detach(), "h0": h0.detach(), "upstream.output": u_out, "upstream.h_n": u_h,
        "output": output.detach(), "h_n": h_n.detach(), "grad.input": x.grad, "grad.h0": h0.grad,
    })
    if is_lstm:
        tensors.update({"c0": c0.detach(), "upstream.c_n": u_c, "c_n": c_n.detach(), "grad.c0": c0.grad})
    tensors.update({f"grad.{name}": p.grad.clone() for name, p in rnn.named_parameters()})
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    # The configuration travels as a tensor: safetensors writes metadata from a
    # hash map, in an order that changes from run to run.
    tensors["config"] = torch.tensor(
        [input_size, hidden, layers, int(bidirectional), int(batch_first), int(bias)], dtype=torch.int64)
    return {k: v.contiguous() for k, v in tensors.items()}


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, (name, *config) in enumerate(CASES):
        tensors = build(seed, name, *config)
        save_file(tensors, OUT / f"{name}.safetensors")
        print(f"wrote {name}.safetensors ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
