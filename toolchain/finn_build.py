"""`python -m toolchain.finn_build`: the same as `toolchain finn_build`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("finn_build"))
