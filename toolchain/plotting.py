"""matplotlib set-up shared by every module that draws (ground floor: imports nothing of ours)."""


def pyplot():
    """matplotlib's pyplot on the Agg backend: every figure here goes to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt
