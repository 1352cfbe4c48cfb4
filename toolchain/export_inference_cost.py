"""`python -m toolchain.export_inference_cost`: the same as `toolchain export_inference_cost`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("export_inference_cost"))
