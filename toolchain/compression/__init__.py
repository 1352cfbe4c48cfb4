"""Model compression machinery behind the `prune` and `reduce_bits` stages (docs/prune.md).

Pruning: `masks` chooses the pruned weights by module type and applies, measures and
materialises torch.nn.utils.prune masks; `criterion` decides whether a step is kept and how FMP
backs off; `distill` is the knowledge-distillation loss; `loop` runs the steps (prune,
fine-tune, judge, keep or roll back); `report` writes their log and plots.
Bit-width reduction: `bits` re-quantizes a model at fewer bits; `sweep` tries the settings.
Both: `cost` scores a model mid-way with qonnx, as export_inference_cost would.
"""
