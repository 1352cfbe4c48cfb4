"""Training machinery behind the `train_initial` stage (and later fine-tuning stages).

`distributed` detects torchrun and deals equal batch counts to DistributedDataParallel ranks;
`state` turns a training run into a checkpoint and back, bit for bit; `loop` runs one epoch of
training or evaluation.
"""
