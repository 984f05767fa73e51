"""How fast one core multiplies matrices of the LSTM's shapes, beside a large matmul: what bounds ``flop_share``.

    python experiments/results/speed_equality/gemm_shapes.py     # nothing else running

Each shape is multiplied in a ``tf.while_loop`` (no Python per product) on one TensorFlow thread (intra- and
inter-op 1); GFLOP/s = 2 m k n products / s. Shapes: a large 2048^3 matmul (the machine's rate,
``experiments.bench_suite`` measures it on both cores); one time step of the main job's LSTM (batch 16, input 50 +
hidden 100, 4 gates of 100); its recurrent half alone; the input projection of a whole batch at once (16 rows x 200
steps, 50 -> 400), which a recurrence kernel could do in one product before the time loop.
"""

import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def gflops(m: int, k: int, n: int, repeats: int) -> float:
    a, b = tf.random.normal([m, k]), tf.random.normal([k, n])

    @tf.function
    def loop():
        def body(i, acc):  # each product depends on the last (no product is skipped or hoisted)
            return i + 1, acc + tf.matmul(a + acc * 0.0, b)[0, 0]
        return tf.while_loop(lambda i, _: i < repeats, body, [0, tf.constant(0.0)])

    loop()
    started = time.perf_counter()
    loop()
    return 2 * m * k * n * repeats / (time.perf_counter() - started) / 1e9


print("| product (one core) | m x k x n | GFLOP/s |\n|---|---|---:|")
for what, (m, k, n, repeats) in {"large matmul": (2048, 2048, 2048, 10),
                                 "one LSTM step, [x, h] @ W": (16, 150, 400, 20000),
                                 "its recurrent half, h @ W_h": (16, 100, 400, 20000),
                                 "a batch's input projection, all steps at once": (3200, 50, 400, 200)}.items():
    print(f"| {what} | {m} x {k} x {n} | {gflops(m, k, n, repeats):.1f} |")
