"""Runs an ONNX model with onnxruntime (the reference runtime) on one input
tensor, for the tests that check tract's outputs against it.

usage: onnx_ref.py MODEL TENSOR.f32 H W OUT_DIR
Writes OUT_DIR/N.f32 (raw little-endian float32) per output and
OUT_DIR/shapes.json (the outputs' shapes, in graph order)."""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

model_path, tensor_path, h, w, out_dir = sys.argv[1:6]
h, w = int(h), int(w)
model = onnx.load(model_path)
# The declared input size is a placeholder: give the real one, and let the
# runtime infer the outputs' shapes.
for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, [1, 3, h, w]):
    dim.ClearField("dim_param")
    dim.dim_value = value
for out in model.graph.output:
    out.type.tensor_type.ClearField("shape")
ort.set_default_logger_severity(3)
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
x = np.fromfile(tensor_path, dtype="<f4").reshape(1, 3, h, w)
outputs = session.run(None, {session.get_inputs()[0].name: x})
shapes = []
for i, o in enumerate(outputs):
    np.ascontiguousarray(o, dtype="<f4").tofile(f"{out_dir}/{i}.f32")
    shapes.append(list(o.shape))
with open(f"{out_dir}/shapes.json", "w") as f:
    json.dump(shapes, f)
