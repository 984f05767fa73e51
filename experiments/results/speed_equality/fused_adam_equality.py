"""Fused Adam (ResourceApplyAdam) against Keras Adam (LazyAdam's dense path): 50 steps of random gradients; prints, per
variable, whether the two are bit-equal and their largest difference."""
import numpy as np, tensorflow as tf, keras, time
from tf_aspmtl.optimizers import LazyAdam

class Fused(LazyAdam):
    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices) or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        b1p = tf.pow(tf.cast(self.beta_1, dtype), step)
        b2p = tf.pow(tf.cast(self.beta_2, dtype), step)
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=b1p, beta2_power=b2p, lr=lr, beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False)

rng = np.random.default_rng(0)
shapes = [(50, 200), (200,), (1000, 3), (7,)]
init = [rng.normal(size=s).astype("float32") for s in shapes]
grads = [[rng.normal(size=s).astype("float32") * (0 if k % 3 == 0 else 1) for s in shapes] for k in range(50)]
res = {}
for cls in (LazyAdam, Fused):
    vs = [keras.Variable(x) for x in init]
    opt = cls(1e-3)
    opt.build(vs)
    @tf.function
    def step(gs):
        opt.apply(gs, vs)
    for g in grads:
        step([tf.constant(x) for x in g])
    res[cls.__name__] = [v.numpy() for v in vs]
print([np.array_equal(a, b) for a, b in zip(res["LazyAdam"], res["Fused"])], [float(np.abs(a-b).max()) for a, b in zip(res["LazyAdam"], res["Fused"])])
