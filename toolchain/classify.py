"""`python -m toolchain.classify`: the same as `toolchain classify`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("classify"))
