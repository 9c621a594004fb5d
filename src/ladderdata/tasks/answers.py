"""How numeric answers are rounded (one place, so the dataset and the benchmark agree)."""


def metres(value: float) -> str:
    """Metres: 2 decimals below 1 m, 1 decimal above (``0.47``, ``2.3``)."""
    return f"{value:.2f}" if value < 1.0 else f"{value:.1f}"


def centimetres(value: float) -> str:
    return str(round(value))


def square_metres(value: float) -> str:
    return f"{value:.1f}"


def count(value: int) -> str:
    return str(value)
