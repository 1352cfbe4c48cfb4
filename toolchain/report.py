"""`python -m toolchain.report`: the same as `toolchain report`."""

if __name__ == "__main__":
    from .cli import stage_main

    raise SystemExit(stage_main("report"))
