"""The FINN dataflow build of the `finn_build` stage (docs/finn_build.md).

- `build_config`: the build folder (`build.yaml`, `boards/<BOARD>.json`, structural folding and
  specialisation files), read and validated before any work.
- `structure`: names every HW node by its place in the network (`conv3.mvau`), not by FINN's
  node names, which shift between FINN versions.
- `steps`: the toolchain's custom build steps (`step_x(model, cfg) -> model`) and graph rewrites.
- `runner`: runs `finn.builder.build_dataflow_cfg` with those steps, up to the last step the
  installed tools allow.
- `verify`, `report`, `plots`: class-exact checks, `finn_report.json` and its PNG.

Only `build_config` is imported without FINN; the other modules import finn-plus, which needs
`toolchain.hw.finn_env.prepare_finn` to have run first.
"""
