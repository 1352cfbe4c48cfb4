"""matplotlib set-up shared by every module that draws (ground floor: imports nothing of ours)."""

import sys


def pyplot():
    """matplotlib's pyplot; on the Agg backend unless the host process imported pyplot first (a
    Jupyter kernel's inline backend is the user's, not ours to switch). Every figure here goes to
    a PNG file and is closed, so none shows up by itself either way."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt
