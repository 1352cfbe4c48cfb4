"""`python -m toolchain.prune`: the same as `toolchain prune`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("prune"))
