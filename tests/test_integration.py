"""The generated example modules (examples/specs_generated.py, derivatives_generated.py) where users run them.

Small shapes, numpy as the oracle (tests/numpy_ref.py and closed forms):

- a Keras 3 layer whose call uses generated functions: trained with `fit`,
  saved to `.keras` and reloaded; under the `mixed_float16` policy too;
- a SavedModel of a tf.Module whose tf.functions (unknown dimensions) call
  generated functions, loaded in a fresh Python process that cannot import
  the generated module (nor einigc);
- tf.data `map`, also after `tf.numpy_function`, whose outputs have an
  unknown rank;
- `tf.distribute.MirroredStrategy` on two logical CPU devices (in a
  subprocess: the devices must be configured before TensorFlow starts);
- XLA (`jit_compile=True`) for einsum and eingrad forms;
- input signatures of unknown rank (`tf.TensorSpec(shape=None)`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests import numpy_ref as R  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

REPO = Path(__file__).resolve().parent.parent
GENERATED = REPO / "examples" / "specs_generated.py"
DERIVATIVES = REPO / "examples" / "derivatives_generated.py"
# Not "specs_generated": the SavedModel test checks that no process can import it by that name.
MODULE_NAME = "einig_integration_specs_generated"


def _import_generated(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The functions of both example modules (specs.ein's and derivatives.ein's), as one namespace.
_MODULES = (
    _import_generated(GENERATED, MODULE_NAME),
    _import_generated(DERIVATIVES, "einig_integration_derivatives_generated"),
)
ops = types.SimpleNamespace(**{name: getattr(m, name) for m in _MODULES for name in m.__all__})


def _rng(seed=0):
    return np.random.default_rng(seed)


def _subprocess(script: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """Runs `script` in a fresh interpreter: isolated (-I: no PYTHONPATH, no
    working directory or user site on sys.path), only the venv's packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _close(actual, expected, rtol=1e-10, atol=1e-10, what=""):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape}, expected {np.shape(expected)}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# --- the functions, their operands and their values ------------------------------

_W = _rng(1).standard_normal((3, 4))
_A = _rng(2).standard_normal((4, 4))
_B = _rng(3).standard_normal((4, 3))


def _tanh_w(x):
    return tf.tanh(tf.linalg.matvec(tf.constant(_W, x.dtype), x))


def _tanh_a(x):
    return tf.tanh(tf.linalg.matvec(tf.constant(_A, x.dtype), x))


def _rows_tanh_b(x):
    return tf.tanh(tf.matmul(x, tf.constant(_B, x.dtype)))


def _energy(x):
    return tf.reduce_sum(x**4) / 4


def _jac_tanh(m, x):
    return (1 - np.tanh(m @ x) ** 2)[:, None] * m


def _einsum_cases():
    g = _rng(10)
    x3, y3, z3 = g.standard_normal((2, 3, 4)), g.standard_normal((2, 4, 5)), g.standard_normal((2, 5, 2))
    m = g.standard_normal((4, 4))
    t, k = g.standard_normal((2, 3, 4)), g.standard_normal((4, 5, 2))
    w12 = g.standard_normal((12, 5))
    flat = g.standard_normal(12)
    big = g.standard_normal((2, 3, 2, 2, 3, 2))
    p, q = g.standard_normal((2, 1, 4)), g.standard_normal((3, 4))
    gx, gy = g.standard_normal((6, 3)), g.standard_normal((3, 4))
    return {
        "bmm3": ((x3, y3, z3), R.einsum("bij,bjk,bkl->bil", x3, y3, z3)),
        "trace": ((m,), R.einsum("ii->", m)),
        "diagonal": ((m,), R.einsum("ii->i", m)),
        "batched_dot": ((p, q), R.einsum("...i,...i->...", p, q)),
        "tensordot": ((t, k), R.einsum("Ij,jK->IK", t, k)),
        "row_sums": ((m,), R.einsum("ij->i_", m)),
        "diag_matrix": ((flat[:4],), R.einsum("i->ii", flat[:4])),
        "interleave": ((gy,), R.einsum("ij->jijij", gy)),
        "high_rank_diagonal": ((big,), R.einsum("ijklji->ikjl", big)),
        "project": ((t, w12), R.einsum("bij,(ij)k->bk", t, w12)),
        "unflatten": ((flat,), R.einsum("(ij)->ij", flat, sizes={"j": 4})),
        "flatten_t": ((t,), R.einsum("bij->b(ji)", t)),
        "group_mix": ((gx, gy), R.einsum("(bi)j,jk->b(ik)", gx, gy, sizes={"b": 2})),
    }


def _eingrad_cases():
    """(callables, tensors): the callables are fixed, the tensors vary; closed forms."""
    g = _rng(20)
    x, v4, z3 = g.standard_normal(4), g.standard_normal(4), g.standard_normal(3)
    rows, vrows = g.standard_normal((5, 4)), g.standard_normal((5, 4))
    jw = _jac_tanh(_W, x)
    jb = np.stack([_jac_tanh(_B.T, r) for r in rows])  # [b, i, j]
    return {
        "vjp": (lambda z, x: ops.vjp(z, _tanh_w, x), (z3, x), z3 @ jw),
        "jacobian": (lambda x: ops.jacobian(_tanh_w, x), (x,), jw),
        "gradient": (lambda x: ops.gradient(_energy, x), (x,), x**3),
        "hessian": (lambda x: ops.hessian(_energy, x), (x,), np.diag(3 * x**2)),
        "hvp": (lambda x, v: ops.hvp(_energy, x, v), (x, v4), 3 * x**2 * v4),
        "jvp": (lambda x, v: ops.jvp(_tanh_w, x, v), (x, v4), jw @ v4),
        "divergence": (lambda x: ops.divergence(_tanh_a, x), (x,), np.trace(_jac_tanh(_A, x))),
        "batched_grad": (lambda x: ops.batched_grad(lambda r: tf.reduce_sum(r**2, axis=1), x), (rows,), 2 * rows),
        "batched_jvp": (
            lambda x, v: ops.batched_jvp(_rows_tanh_b, x, v),
            (rows, vrows),
            np.einsum("bij,bj->bi", jb, vrows),
        ),
        "batched_jacobian": (lambda x: ops.batched_jacobian(_rows_tanh_b, x), (rows,), jb),
        "linear_jacobian": (lambda w, x: ops.linear_jacobian(w, x), (_W, x), _W),
    }


EINSUM = _einsum_cases()
EINGRAD = _eingrad_cases()


# --- XLA -----------------------------------------------------------------------------

XLA_EINSUM = [
    "bmm3",
    "trace",
    "diagonal",
    "batched_dot",
    "tensordot",
    "row_sums",
    "interleave",
    "project",
    "unflatten",
    "group_mix",
]


@pytest.mark.parametrize("name", XLA_EINSUM)
def test_einsum_functions_under_xla(name):
    args, expected = EINSUM[name]
    f = tf.function(getattr(ops, name), jit_compile=True)
    _close(f(*[tf.constant(a) for a in args]), expected, what=name)


@pytest.mark.parametrize("name", sorted(EINGRAD))
def test_eingrad_functions_under_xla(name):
    fn, args, expected = EINGRAD[name]
    f = tf.function(fn, jit_compile=True)
    _close(f(*[tf.constant(a) for a in args]), expected, rtol=1e-8, atol=1e-10, what=name)


# --- unknown rank in the input signature ---------------------------------------------

UNKNOWN_RANK = ["diagonal", "trace", "project", "unflatten", "bmm3", "row_sums", "batched_dot", "group_mix"]


@pytest.mark.parametrize("name", UNKNOWN_RANK)
def test_unknown_rank_signature(name):
    args, expected = EINSUM[name]
    signature = [tf.TensorSpec(shape=None, dtype=tf.float64)] * len(args)
    f = tf.function(getattr(ops, name), input_signature=signature)
    _close(f(*[tf.constant(a) for a in args]), expected, what=name)


def test_unknown_rank_with_composites_is_refused_naming_the_function():
    """README: operands with composites need a known rank while tracing, and say so."""
    signature = [tf.TensorSpec(shape=None, dtype=tf.float64)] * 2
    f = tf.function(ops.tensordot, input_signature=signature)
    args, _ = EINSUM["tensordot"]
    with pytest.raises(ValueError, match=r"tensordot: .*rank") as caught:
        f(*[tf.constant(a) for a in args])
    assert "'x'" in str(caught.value)  # the user's operand name
    # With the ranks in the signature, unknown dimensions are fine.
    ranked = tf.function(ops.tensordot, input_signature=[tf.TensorSpec([None] * a.ndim, tf.float64) for a in args])
    _close(ranked(*[tf.constant(a) for a in args]), EINSUM["tensordot"][1], what="tensordot")


# --- tf.data ----------------------------------------------------------------------------


def test_tf_data_map():
    g = _rng(30)
    x = g.standard_normal((10, 3, 4))
    w = g.standard_normal((12, 5))
    batches = tf.data.Dataset.from_tensor_slices(x).batch(4)  # the last batch is smaller: unknown batch size
    projected = batches.map(lambda b: ops.project(b, tf.constant(w)))
    summed = projected.map(ops.row_sums)
    got = np.concatenate([b.numpy() for b in summed])
    _close(got, R.einsum("ij->i_", R.einsum("bij,(ij)k->bk", x, w)), what="project then row_sums")
    pairs = tf.data.Dataset.from_tensor_slices((x, x)).batch(3).map(lambda a, b: ops.batched_dot(a, b))
    got = np.concatenate([b.numpy() for b in pairs])
    _close(got, R.einsum("...i,...i->...", x, x), what="batched_dot")


def test_tf_data_map_after_numpy_function():
    """tf.numpy_function's outputs have an unknown rank (issue 10, item 2)."""
    g = _rng(31)
    matrices = g.standard_normal((6, 4, 4))

    def doubled(a):
        return tf.numpy_function(lambda v: 2 * v, [a], tf.float64)

    ds = tf.data.Dataset.from_tensor_slices(matrices).map(doubled)
    assert ds.element_spec.shape.rank is None
    got = np.stack([d.numpy() for d in ds.map(ops.diagonal)])
    _close(got, np.stack([np.diag(2 * m) for m in matrices]), what="diagonal")
    got = np.stack([t.numpy() for t in ds.map(ops.trace)])
    _close(got, np.trace(2 * matrices, axis1=1, axis2=2), what="trace")
    batched = tf.data.Dataset.from_tensor_slices(matrices).batch(3).map(doubled)
    got = np.concatenate([b.numpy() for b in batched.map(lambda b: ops.bmm3(b, b, b))])
    _close(got, R.einsum("bij,bjk,bkl->bil", 2 * matrices, 2 * matrices, 2 * matrices), what="bmm3")


# --- Keras ----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="einig_tests")
class EinLayer(keras.layers.Layer):
    """x[b, i, j] -> row sums of (T T T) with T = tensordot(project(x, w), m):
    project, tensordot, bmm3 and row_sums in one differentiable call."""

    def __init__(self, units=3, side=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.side = side

    def build(self, input_shape):
        flat = input_shape[1] * input_shape[2]
        self.w = self.add_weight(shape=(flat, self.units), initializer="glorot_uniform", name="w")
        self.m = self.add_weight(shape=(self.units, self.side, self.side), initializer="glorot_uniform", name="m")

    def call(self, x):
        h = ops.project(x, self.w)  # [b, units]
        t = ops.tensordot(h, self.m)  # [b, side, side]
        cube = ops.bmm3(t, t, t)
        return ops.row_sums(tf.reshape(cube, [-1, self.side * self.side]))  # [b, 1]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "side": self.side}


def _layer_reference(x, w, m):
    h = R.einsum("bij,(ij)k->bk", x, w)
    t = R.einsum("Ij,jK->IK", h, m)
    cube = R.einsum("bij,bjk,bkl->bil", t, t, t)
    return R.einsum("ij->i_", cube.reshape(len(x), -1))


def _model():
    return keras.Sequential([keras.Input((3, 4)), EinLayer(units=3, side=2)])


def test_keras_layer_fit_save_and_reload(tmp_path):
    keras.utils.set_random_seed(0)
    g = _rng(40)
    x = g.standard_normal((16, 3, 4)).astype("float32")
    target = g.standard_normal((16, 1)).astype("float32")
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    before = [v.copy() for v in model.get_weights()]
    history = model.fit(x, target, batch_size=5, epochs=4, verbose=0)  # batches of 5 and 1: unknown batch size
    losses = history.history["loss"]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
    after = model.get_weights()
    assert all(not np.array_equal(b, a) for b, a in zip(before, after)), "training changed no weight"
    w, m = after
    expected = _layer_reference(x.astype(np.float64), w.astype(np.float64), m.astype(np.float64))
    _close(model.predict(x, batch_size=7, verbose=0), expected, rtol=1e-4, atol=1e-5, what="predict")
    _close(model(x), expected, rtol=1e-4, atol=1e-5, what="call")

    path = tmp_path / "ein_layer.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.layers[0], EinLayer)
    _close(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=0, atol=0, what="reloaded")


@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_keras_layer_under_mixed_float16(mixed_float16):
    keras.utils.set_random_seed(1)
    g = _rng(41)
    x = g.standard_normal((8, 3, 4)).astype("float32")
    model = _model()
    layer = model.layers[0]
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    out = model(x)
    assert out.dtype == tf.float16
    w, m = (v.astype(np.float64) for v in model.get_weights())
    expected = _layer_reference(x.astype(np.float64), w, m)
    scale = np.abs(expected).max() + 1
    _close(out.numpy().astype(np.float64), expected, rtol=2e-2, atol=2e-2 * scale, what="mixed_float16")
    # One training step in float16 too: the loss scale optimizer, finite weights.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    model.fit(x, np.zeros((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    assert all(np.isfinite(v).all() for v in model.get_weights())


# --- SavedModel in a process without the generated module ---------------------------

SAVED_SIGNATURES = {
    "bmm3": [[None, None, None]] * 3,
    "trace": [[None, None]],
    "diagonal": [[None, None]],
    "tensordot": [[None, None, None], [None, None, None]],
    "project": [[None, None, None], [None, None]],
    "unflatten": [[None]],
    "group_mix": [[None, None], [None, None]],
    "row_sums": [[None, None]],
}


def _saved_module():
    module = tf.Module()
    for name, shapes in SAVED_SIGNATURES.items():
        signature = [tf.TensorSpec(shape, tf.float64) for shape in shapes]
        setattr(module, name, tf.function(getattr(ops, name), input_signature=signature))
    # A gradient through a generated function, traced into the SavedModel.
    module.gradient = tf.function(
        lambda x: ops.gradient(_energy, x), input_signature=[tf.TensorSpec([None], tf.float64)]
    )
    return module


SAVED_MODEL_SCRIPT = """
import importlib.util, json, sys
import numpy as np
import tensorflow as tf
for name in ("specs_generated", "derivatives_generated", "{module_name}", "einig_integration_derivatives_generated"):
    if importlib.util.find_spec(name) is not None:
        sys.exit("the generated module is importable: " + name)
loaded = tf.saved_model.load("saved")
inputs = np.load("inputs.npz")
names = json.load(open("names.json"))
out = {{}}
for name, count in names.items():
    out[name] = getattr(loaded, name)(*[tf.constant(inputs[f"{{name}}_{{k}}"]) for k in range(count)]).numpy()
np.savez("outputs.npz", **out)
bad = [m for m in sys.modules if m.startswith("einigc") or m.split(".")[0].endswith("s_generated")]
print(json.dumps({{"modules": bad}}))
"""


def test_saved_model_loads_without_the_generated_module(tmp_path):
    tf.saved_model.save(_saved_module(), str(tmp_path / "saved"))
    inputs, expected, names = {}, {}, {}
    for name in SAVED_SIGNATURES:
        args, value = EINSUM[name]
        names[name] = len(args)
        expected[name] = value
        inputs.update({f"{name}_{k}": a for k, a in enumerate(args)})
    x = _rng(50).standard_normal(5)
    names["gradient"], inputs["gradient_0"], expected["gradient"] = 1, x, x**3
    np.savez(tmp_path / "inputs.npz", **inputs)
    (tmp_path / "names.json").write_text(json.dumps(names))
    done = _subprocess(SAVED_MODEL_SCRIPT.format(module_name=MODULE_NAME), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"modules": []}
    outputs = np.load(tmp_path / "outputs.npz")
    for name, value in expected.items():
        _close(outputs[name], value, what=f"loaded {name}")


# --- MirroredStrategy on two logical CPUs ---------------------------------------------

MIRRORED_SCRIPT = """
import importlib.util, json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
spec = importlib.util.spec_from_file_location("generated", {path!r})
ops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ops)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
inputs = np.load("inputs.npz")
x, y, z, w = (inputs[k] for k in "xyzw")

ds = tf.data.Dataset.from_tensor_slices((x, y, z)).batch(8)  # 4 per replica
with strategy.scope():
    weights = tf.Variable(w)

@tf.function
def step(batch):
    def replica(x, y, z):
        cube = tf.reduce_sum(ops.bmm3(x, y, z), axis=0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(ops.project(x, weights) ** 2)
        return cube, tape.gradient(loss, weights)
    per_replica = strategy.run(replica, args=batch)
    return [strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in per_replica]

cube, grad = 0, 0
replicas = set()
for batch in strategy.experimental_distribute_dataset(ds):
    replicas.add(len(strategy.experimental_local_results(batch[0])))
    c, g = step(batch)
    cube, grad = cube + c.numpy(), grad + g.numpy()
np.savez("outputs.npz", cube=cube, grad=grad)
print(json.dumps({{"replicas": sorted(replicas)}}))
"""


def test_mirrored_strategy_on_two_cpus(tmp_path):
    g = _rng(60)
    x, y, z = g.standard_normal((16, 3, 4)), g.standard_normal((16, 4, 5)), g.standard_normal((16, 5, 2))
    w = g.standard_normal((12, 3))
    np.savez(tmp_path / "inputs.npz", x=x, y=y, z=z, w=w)
    done = _subprocess(MIRRORED_SCRIPT.format(path=str(GENERATED)), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"replicas": [2]}
    outputs = np.load(tmp_path / "outputs.npz")
    _close(outputs["cube"], R.einsum("bij,bjk,bkl->bil", x, y, z).sum(axis=0), what="bmm3 reduced")
    x2 = x.reshape(16, 12)
    _close(outputs["grad"], 2 * x2.T @ (x2 @ w), what="gradient through project, reduced")
