"""`python -m toolchain.reduce_bits`: the same as `toolchain reduce_bits`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("reduce_bits"))
