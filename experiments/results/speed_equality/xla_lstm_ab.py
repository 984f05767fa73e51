"""One LSTM training step (forward + backward), batch 16, 120 steps, input 50, hidden 100: our FusedLSTM (BlockLSTM)
against keras.layers.LSTM in a tf.function, with and without XLA (jit_compile=True); 1 intra-op, 2 inter-op threads.

    PYTHONPATH=. python experiments/results/speed_equality/xla_lstm_ab.py
"""
import time, os, numpy as np, tensorflow as tf, keras
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(2)
from tf_aspmtl.layers.fused_lstm import FusedLSTM
B, T, D, H = 16, 120, 50, 100
x = tf.random.normal([B, T, D]); mask = tf.ones([B, T], bool)
fused = FusedLSTM(H); fused(x, mask=mask)
ker = keras.layers.LSTM(H); ker(x)
def step_fn(layer, **kw):
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, **kw) if kw else layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, layer.trainable_variables + [x])
    return step
variants = {
  "fused_blocklstm": tf.function(step_fn(fused, mask=mask)),
  "keras_lstm_graph": tf.function(step_fn(ker)),
  "keras_lstm_xla": tf.function(step_fn(ker), jit_compile=True),
}
for f in variants.values(): 
    for _ in range(3): f(x)
res = {k: [] for k in variants}
for rnd in range(5):
    for k, f in variants.items():
        s = time.perf_counter()
        for _ in range(20): [g.numpy() for g in f(x)][:1]
        res[k].append((time.perf_counter() - s) / 20 * 1e3)
for k, v in res.items(): print(k, "ms/step fwd+bwd best", round(min(v), 2), [round(a, 1) for a in v])
print("load", os.getloadavg())
