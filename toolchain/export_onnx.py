"""`python -m toolchain.export_onnx`: the same as `toolchain export_onnx`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("export_onnx"))
