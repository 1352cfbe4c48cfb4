"""`python -m toolchain.export_nir`: the same as `toolchain export_nir`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("export_nir"))
