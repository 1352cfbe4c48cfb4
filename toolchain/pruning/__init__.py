"""Pruning machinery behind the `prune` stage (docs/prune.md).

`masks` chooses the pruned weights by module type and applies, measures and materialises
torch.nn.utils.prune masks; `criterion` decides whether a step is kept and how FMP backs off;
`distill` is the knowledge-distillation loss; `cost` scores a pruned model with qonnx;
`loop` runs the steps (prune, fine-tune, judge, keep or roll back).
"""
