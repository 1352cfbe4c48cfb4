"""Quantized SNN/CNN modulation classifiers (RadioML 2018.01A) from PyTorch to FPGA bitstreams."""

import warnings

__version__ = "0.1.0"

# Brevitas warns on every import that an optional CUDA kernel package is missing; it is only
# used by a quantization method this toolchain does not use, so the line is noise to users.
warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
