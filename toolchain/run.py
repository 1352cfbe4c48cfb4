"""`python -m toolchain.run`: the same as `toolchain run`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("run"))
