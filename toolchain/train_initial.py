"""`python -m toolchain.train_initial`: the same as `toolchain train_initial`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("train_initial"))
