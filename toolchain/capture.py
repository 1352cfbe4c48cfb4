"""`python -m toolchain.capture`: the same as `toolchain capture`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("capture"))
