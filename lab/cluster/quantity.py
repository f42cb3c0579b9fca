"""Kubernetes resource quantities: parse them, and write them the way the API server does.

A quantity (`500m`, `1Gi`, `1.5`, `12e6`) is an exact decimal number with a notation. The API
server parses every quantity it receives and writes back a canonical text, so Git's `1024Mi`
comes back as `1Gi` and `0.5` as `500m`. Three parts of the lab need that one rule: the
simulated API server (decoding, defaulting, validation), its Table printer (`kubectl get`
columns), and the GitOps engine, which must not call `1024Mi` in Git and `1Gi` live drift.
So it lives here, free of the simulator, following k8s.io/apimachinery `pkg/api/resource`:

    parse_quantity(text) -> Quantity        ParseQuantity; ValueError with Go's message
    canonical_quantity(text) -> str         what the server stores for `text`
    format_quantity(quantity) -> str        Quantity.String() (CanonicalizeBytes)
    round_quantity_up(quantity, scale)      RoundUp to 10**scale units
    display_quantity(value) -> str          String() for printing: never raises
    quantity_value(value) -> Fraction|None  the exact amount of a JSON value, None if not one
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "QUANTITY_FORMAT_ERROR",
    "QUANTITY_SUFFIX_ERROR",
    "Quantity",
    "canonical_quantity",
    "display_quantity",
    "format_quantity",
    "parse_quantity",
    "quantity_text",
    "quantity_value",
    "round_quantity_up",
]

QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_NAMES = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_NAMES = {0: "", **{exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = 10**9


@dataclass(frozen=True)
class Quantity:
    """An exact resource quantity and the notation it canonicalises to."""

    value: Fraction
    format: str  # "DecimalSI", "BinarySI" or "DecimalExponent"

    def __str__(self) -> str:
        return format_quantity(self)

    def milli_value(self) -> int:
        """Thousandths, rounded away from zero like Go's `MilliValue`."""
        return _round_away(self.value * 1000)

    def int_value(self) -> int:
        """Whole units, rounded away from zero like Go's `Value`."""
        return _round_away(self.value)


def parse_quantity(text: str) -> Quantity:
    """Go's `resource.ParseQuantity`: raise ValueError with its message when `text` is bad."""
    if not text:
        raise ValueError(QUANTITY_FORMAT_ERROR)
    if text == "0":
        return Quantity(Fraction(0), "DecimalSI")
    negative, whole, fraction_digits, suffix = _split_quantity(text)
    fmt, base, exponent = _interpret_suffix(suffix)
    digits = whole + fraction_digits
    amount = Fraction(int(digits or "0"), 10 ** len(fraction_digits))
    amount *= Fraction(base) ** exponent
    if negative:
        amount = -amount
    if (amount * _NANO).denominator != 1:
        # Precision below a nano unit is rounded up, as the Go parser does.
        amount = Fraction(_round_away(amount * _NANO), _NANO)
    return Quantity(amount, fmt)


def canonical_quantity(text: str) -> str:
    """The text the API server writes back for the quantity `text` (ValueError when bad).

    Go's parser keeps the caller's own spelling when its fast path finds it already canonical
    enough (`500m`, `100Mi`, `1E3`, even `+1`); anything else is rewritten (`1000m` -> `1`).
    """
    quantity = parse_quantity(text)
    return text if _keeps_spelling(text) else format_quantity(quantity)


def _keeps_spelling(text: str) -> bool:
    """`resource.ParseQuantity`'s "if the number is in canonical form, reuse the string"."""
    if text == "0":
        return False
    _, whole, fraction_digits, suffix = _split_quantity(text)
    num = whole.lstrip("0") or "0"
    fmt, _, exponent = _interpret_suffix(suffix)
    if fmt == "BinarySI":
        if exponent < 0 or fraction_digits:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = 18 - len(num) - len(fraction_digits)
        scale = exponent - len(fraction_digits)
    if precision < 0 or scale < -9:
        return False
    shifted = num + fraction_digits
    value = int(shifted)
    if fmt == "BinarySI":
        if value << exponent >= 2**63:
            return False
        return exponent % 10 == 0 and value & 0x07 != 0
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _split_quantity(text: str) -> tuple[bool, str, str, str]:
    pos, end = 0, len(text)
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        pos = 1
    start = pos
    while pos < end and text[pos].isascii() and text[pos].isdigit():
        pos += 1
    whole = text[start:pos]
    fraction_digits = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isascii() and text[pos].isdigit():
            pos += 1
        fraction_digits = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isascii() and text[pos].isdigit():
        pos += 1
    if pos < end:
        raise ValueError(QUANTITY_FORMAT_ERROR)
    return negative, whole, fraction_digits, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[str, int, int]:
    if suffix in _DECIMAL_SUFFIXES:
        return "DecimalSI", 10, _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return "BinarySI", 2, _BINARY_SUFFIXES[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return "DecimalExponent", 10, int(suffix[1:])
        except ValueError:
            pass
    raise ValueError(QUANTITY_SUFFIX_ERROR)


def format_quantity(quantity: Quantity) -> str:
    """The canonical text the API server writes back (`1.5` -> `1500m`, `1024Mi` -> `1Gi`).

    A decimal amount past the last SI suffix (10^21 and up) is written in exponent form, as
    Kubernetes does since the fix that stopped `1000E` from printing as `1`.
    """
    value = quantity.value
    if value == 0:
        return "0"
    fmt = quantity.format
    if fmt == "BinarySI" and (-1024 < value < 1024 or value.denominator != 1):
        # Small or fractional binary amounts are shown in decimal rather than rounded.
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        mantissa, exponent = value.numerator, 0
        while mantissa % 1024 == 0 and exponent < 60:
            mantissa //= 1024
            exponent += 10
        return f"{mantissa}{_BINARY_NAMES[exponent]}"
    mantissa, exponent = _decimal_parts(value)
    if fmt == "DecimalExponent":
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    suffix = _DECIMAL_NAMES.get(exponent)
    if suffix is None:
        return f"{mantissa}e{exponent}"
    return f"{mantissa}{suffix}"


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    exponent = 0
    while value.denominator != 1:
        value *= 10
        exponent -= 1
    mantissa = value.numerator
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    # Canonical SI notation uses exponents that are multiples of three.
    shift = exponent % 3
    return mantissa * 10**shift, exponent - shift


def round_quantity_up(quantity: Quantity, scale: int) -> Quantity:
    """Round away from zero to 10**scale units (`SetDefaults_ResourceList` uses milli, -3)."""
    factor = Fraction(10) ** -scale
    scaled = quantity.value * factor
    if scaled.denominator == 1:
        return quantity
    return Quantity(Fraction(_round_away(scaled)) / factor, quantity.format)


def _round_away(value: Fraction) -> int:
    whole = value.numerator // value.denominator
    if value.denominator == 1:
        return whole
    return whole + 1 if value > 0 else whole


def quantity_text(value: Any) -> str | None:
    """The text of a quantity as JSON carries it: a string, or a number YAML left unquoted.

    None for what cannot be a quantity (booleans, maps, lists, null).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def quantity_value(value: Any) -> Fraction | None:
    """The exact amount of a quantity given as JSON, or None when it is not a valid one."""
    text = quantity_text(value)
    if text is None:
        return None
    try:
        return parse_quantity(text).value
    except ValueError:
        return None


def display_quantity(value: Any) -> str:
    """resource.Quantity.String() for printing (`1500m`, `1Gi`); never raises.

    An absent quantity prints as `0` (Go's zero value); text that does not parse is shown as
    it is, since a printer must not fail on what it was given.
    """
    if value is None:
        return "0"
    text = quantity_text(value)
    if text is None:
        return ""
    text = text.strip()
    try:
        # Objects are decoded with ParseQuantity, which keeps an already canonical spelling.
        return canonical_quantity(text)
    except ValueError:
        return text
