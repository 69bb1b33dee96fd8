"""matplotlib is optional: imported only when a plot is asked for."""
import os
import sys


def pyplot(who):
    """``matplotlib.pyplot``, or an ImportError naming ``who`` and saying how to get it.

    Unless pyplot is already in use or MPLBACKEND chooses a backend (as Jupyter does), the
    file-only Agg backend is selected, so scripts never try to open a window."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"{who} draws with matplotlib, which is not installed: "
                          "pip install matplotlib (the printed tables need nothing)") from None
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
