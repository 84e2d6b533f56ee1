"""Numbers as the report prints them: a fixed count of significant digits in plain
decimal notation (never '1.23e-05'), exact zeros as '0', small p-values as '< 0.001'.

Why not ``f"{x:#.3g}"``: it switches to e-notation below 1e-4 and above 1e3, and a
difference of two equal floats computed in another order (-5.55e-17) prints as a number
instead of as the 0 it is. A value smaller than ZERO times the scale of what it is a
difference of is taken as 0.
"""
from __future__ import annotations

import math

ZERO = 1e-12        # relative to the scale of the compared values
P_FLOOR = 0.001     # p- and q-values below it print as '< 0.001'


def is_zero(value: float, scale: float = 1.0) -> bool:
    """Whether ``value`` is 0 up to rounding noise of numbers of size ``scale``."""
    return abs(value) < ZERO * max(abs(scale), 1e-300)


def plain(value, digits: int = 3, signed: bool = False, scale: float = 1.0) -> str:
    """``value`` at ``digits`` significant digits in decimal notation, trailing zeros
    kept ('0.120', '1.00', '12300'); '0' for a zero (``is_zero`` at ``scale``); '–'
    for None or NaN. ``signed``: '+' on positive numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = float(value)
    if math.isinf(value):
        return ("+" if signed and value > 0 else "") + ("∞" if value > 0 else "−∞")
    if is_zero(value, scale):
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    decimals = digits - 1 - exponent
    rounded = round(value, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > exponent:   # 0.09996 -> 0.100
        decimals -= 1
        rounded = round(value, decimals)
    return f"{rounded:{'+' if signed else ''}.{max(decimals, 0)}f}"


def p_value(p) -> str:
    """A p- or q-value: 3 significant digits, or '< 0.001'."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"< {P_FLOOR:g}" if p < P_FLOOR else plain(p)


__all__ = ["P_FLOOR", "ZERO", "is_zero", "p_value", "plain"]
