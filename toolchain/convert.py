"""`python -m toolchain.convert`: the same as `toolchain convert`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("convert"))
