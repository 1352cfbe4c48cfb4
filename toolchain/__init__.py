"""Quantized SNN/CNN modulation classifiers (RadioML 2018.01A) from PyTorch to FPGA bitstreams."""

__version__ = "0.1.0"
