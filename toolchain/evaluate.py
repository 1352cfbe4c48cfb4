"""`python -m toolchain.evaluate`: the same as `toolchain evaluate`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("evaluate"))
