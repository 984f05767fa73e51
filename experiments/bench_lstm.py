"""One LSTM's training step: keras.layers.LSTM against our fused LSTMEncoder, side by side.

    python -m experiments.bench_lstm            # batch 16, 150 steps, input 50, hidden 100

Prints milliseconds per forward + backward pass of each, alternating them in
rounds (best round kept), on the same masked random batch.
"""

from __future__ import annotations

import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.layers import LSTMEncoder


def _step(layer):
    @tf.function
    def step(x, mask):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, mask=mask) ** 2)
        return tape.gradient(loss, layer.trainable_variables)

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--length", type=int, default=150)
    p.add_argument("--input-dim", type=int, default=50)
    p.add_argument("--units", type=int, default=100)
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch_size, args.length, args.input_dim)), tf.float32)
    mask = tf.sequence_mask(rng.integers(args.length // 2, args.length + 1, args.batch_size), args.length)
    layers = {"keras.layers.LSTM": keras.layers.LSTM(args.units), "tf_aspmtl LSTMEncoder": LSTMEncoder(args.units)}
    steps = {name: _step(layer) for name, layer in layers.items()}
    best = {name: float("inf") for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            step(x, mask)  # trace / warm up
            start = time.perf_counter()
            for _ in range(args.calls):
                step(x, mask)
            best[name] = min(best[name], (time.perf_counter() - start) / args.calls * 1000)
    for name, ms in best.items():
        print(f"{name:24s} {ms:6.1f} ms per training step (batch {args.batch_size}, {args.length} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
