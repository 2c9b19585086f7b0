#!/usr/bin/env python3
"""A/B of the diagonal helpers eagerly: this checkout's module loaded twice (the noise) against main's list targets."""

import os, random, sys
sys.path.insert(0, os.getcwd())
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
from bench import eager_reshape as e
from bench.eager_crossover import compare
from bench.cases import FULL_SIZES
random.seed(0)
s = e.compiled((e.REPO / "bench" / "cases.ein").read_text())
main_src = s.replace("shape=_shape([-1]))", "shape=[-1])").replace("shape=_shape(result_shape))", "shape=result_shape)").replace("shape=_shape([math.prod(result_shape)])", "shape=[math.prod(result_shape)]")
assert main_src != s
m1, m2, m3 = e.load(s, "a1"), e.load(s, "a2"), e.load(main_src, "main1")
for name, shape in (("induced", (48, 48)), ("diag6", (16,) * 6)):
    x = tf.constant(np.random.default_rng(0).standard_normal(shape), tf.float32)
    r = compare({"head A": getattr(m1, name), "head B": getattr(m2, name), "main": getattr(m3, name)}, (x,), 11, 0.03, base="head A")
    print(name, {k: (round(us, 1), round(ratio, 2)) for k, (us, ratio) in r.items()})
