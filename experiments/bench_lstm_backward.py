"""Would a backward pass of our own beat TensorFlow's ``BlockLSTMGrad``? (issue 22: ``asp_epoch_s``, ``flop_share``)

    python -m experiments.bench_lstm_backward --output experiments/results/speed_equality/lstm_backward.json

A training step of ASP-MTL spends most of its time in ``BlockLSTMGrad``, whose weight gradient is a sum of one
``[input + units, batch] x [batch, 4 units]`` product per time step (inner dimension: the batch, 16). The candidate
here computes only the gate gradients in its time loop and the weight, bias and input gradients as one product each
over all steps (:func:`batched_backward`), run as graph ops or compiled by XLA. Each is timed, forward and backward
of the paper's LSTM (50-d input, 100 units, batch 16), for one LSTM alone and for two at once (a step of ASP-MTL
runs the shared and a private LSTM, which TensorFlow runs side by side on 2 cores), at two lengths; the best of
``--rounds`` rounds is kept. The candidate's gradients are checked against ``BlockLSTMGrad``'s. Say in ``--note``
what else ran.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from experiments.cli_types import int_at_least
from experiments.provenance import command_line, provenance, write_json

INPUT_DIM, UNITS, BATCH = 50, 100, 16


def batched_backward(tf, x, w, outputs, h_grad):
    """``BlockLSTMGrad``'s ``(x, w, b)`` gradients: gate gradients step by step, the rest as one product each."""
    i, cs, f, o, ci, co, h = outputs
    steps, batch = tf.shape(h_grad)[0], tf.shape(h_grad)[1]
    zero_step = tf.zeros_like(cs[:1])
    cs_prev = tf.concat([zero_step, cs[:-1]], 0)
    f_next = tf.concat([f[1:], zero_step], 0)
    # d gates_t = [dc i', dc ci', dc f', dh o'] with every factor known from the forward pass.
    factors = tf.concat([ci * i * (1 - i), i * (1 - ci * ci), cs_prev * f * (1 - f), co * o * (1 - o)], 2)
    cell_factor = o * (1 - co * co)
    recurrent_t = tf.transpose(w[INPUT_DIM:])

    def step(t, dh_recurrent, dc_next, grads):
        s = steps - 1 - t
        dh = h_grad[s] + dh_recurrent
        dc = dc_next * f_next[s] + dh * cell_factor[s]
        dgates = tf.concat([dc, dc, dc, dh], 1) * factors[s]
        return t + 1, tf.matmul(dgates, recurrent_t), dc, grads.write(s, dgates)

    zero = tf.zeros([batch, UNITS])
    *_, grads = tf.while_loop(lambda t, *_: t < steps, step, (0, zero, zero, tf.TensorArray(tf.float32, steps)))
    grads = tf.reshape(grads.stack(), [-1, 4 * UNITS])
    h_prev = tf.concat([zero_step, h[:-1]], 0)
    inputs = tf.reshape(tf.concat([x, h_prev], 2), [-1, INPUT_DIM + UNITS])
    x_grad = tf.reshape(tf.matmul(grads, w[:INPUT_DIM], transpose_b=True), [steps, batch, INPUT_DIM])
    return x_grad, tf.matmul(inputs, grads, transpose_a=True), tf.reduce_sum(grads, 0)


def _lstms(tf):
    """``{kind: lstm(x, w, b) -> h}``: TensorFlow's gradient, and the candidate as graph ops and under XLA."""

    def forward(x, w, b):
        zeros, peephole = tf.zeros([tf.shape(x)[1], UNITS]), tf.zeros([UNITS])
        return tf.raw_ops.BlockLSTM(seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=zeros, h_prev=zeros,
                                    w=w, wci=peephole, wcf=peephole, wco=peephole, b=b, forget_bias=0.0,
                                    cell_clip=-1.0, use_peephole=False)

    def candidate(backward):
        @tf.custom_gradient
        def lstm(x, w, b):
            outputs = forward(x, w, b)
            return outputs[6], lambda h_grad: backward(x, w, outputs, h_grad)
        return lstm

    graph = lambda x, w, outputs, h_grad: batched_backward(tf, x, w, outputs, h_grad)  # noqa: E731
    return {
        "BlockLSTMGrad": lambda x, w, b: forward(x, w, b)[6],
        "batched, graph ops": candidate(graph),
        "batched, XLA": candidate(tf.function(graph, jit_compile=True)),
    }


def measure(steps: int, lstm_count: int, rounds: int, iterations: int) -> dict[str, Any]:
    import tensorflow as tf

    tf.random.set_seed(0)
    x = tf.random.normal([steps, BATCH, INPUT_DIM])
    weights = [tf.Variable(tf.random.normal([INPUT_DIM + UNITS, 4 * UNITS]) * 0.1) for _ in range(lstm_count)]
    biases = [tf.Variable(tf.random.normal([4 * UNITS]) * 0.1) for _ in range(lstm_count)]
    upstream = tf.random.normal([steps, BATCH, UNITS])

    def step_of(lstm):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = sum(tf.reduce_sum(lstm(x, w, b) * upstream) for w, b in zip(weights, biases))
            return tape.gradient(loss, [x] + weights + biases)
        return step

    steps_by_kind = {kind: step_of(lstm) for kind, lstm in _lstms(tf).items()}
    reference = steps_by_kind["BlockLSTMGrad"]()
    result: dict[str, Any] = {"steps": steps, "lstms": lstm_count, "ms": {}, "max_relative_difference": {}}
    for kind, step in steps_by_kind.items():
        got = step()
        result["max_relative_difference"][kind] = max(
            float(tf.reduce_max(tf.abs(a - b)) / tf.reduce_max(tf.abs(a))) for a, b in zip(reference, got))
    best = {kind: float("inf") for kind in steps_by_kind}
    for _ in range(rounds):  # kinds alternate within a round: the machine's noise falls on all alike
        for kind, step in steps_by_kind.items():
            step()
            start = time.perf_counter()
            for _ in range(iterations):
                step()
            best[kind] = min(best[kind], 1e3 * (time.perf_counter() - start) / iterations)
    result["ms"] = best
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="40,120", help="comma-separated sequence lengths (default 40,120)")
    p.add_argument("--rounds", type=int_at_least(1), default=3, help="rounds; the best is kept (default 3)")
    p.add_argument("--iterations", type=int_at_least(1), default=30, help="timed steps a round (default 30)")
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--note", default="", help="what else ran on the machine")
    args = p.parse_args(argv)
    try:
        lengths = [int(n) for n in args.lengths.split(",")]
    except ValueError:
        p.error(f"--lengths must be comma-separated integers; got {args.lengths!r}")
    if min(lengths) < 1:
        p.error(f"--lengths must be >= 1; got {args.lengths!r}")
    import tensorflow as tf

    rows = []
    for steps in lengths:
        for count in (1, 2):
            rows.append(measure(steps, count, args.rounds, args.iterations))
            row = rows[-1]
            print(f"length {steps}, {count} LSTM(s) at once: "
                  + ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in row["ms"].items()), flush=True)
    record = {**provenance(command_line("experiments.bench_lstm_backward", argv)), "note": args.note,
              "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                          tf.config.threading.get_inter_op_parallelism_threads()], "input_dim": INPUT_DIM, "units": UNITS, "batch": BATCH,
              "rows": rows}
    write_json(args.output, record)
    return record


if __name__ == "__main__":
    from tf_aspmtl.runtime import DEFAULT_THREADS, configure_cpu_threads

    configure_cpu_threads(*DEFAULT_THREADS)  # the main job's thread pools (a caller of main() keeps its own)
    main()
