"""The book's figure style: one call at the top of every notebook.

Figures are built as :class:`matplotlib.figure.Figure` objects (no ``pyplot`` state), so
the style is the only global setting the notebooks make.
"""

from __future__ import annotations

#: Colours of the three objectives, used wherever clicks/carts/orders appear together.
OBJECTIVE_COLOURS = {"clicks": "#0072B2", "carts": "#E69F00", "orders": "#009E73"}


def use_book_style() -> None:
    """Seaborn's ``whitegrid`` theme at notebook scale, colour-blind palette, crisp PNGs."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "axes.titlesize": "medium",
            "axes.titleweight": "bold",
            "legend.frameon": False,
        }
    )
