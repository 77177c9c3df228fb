"""Reading numbers out of query strings and settings written by anyone.

`str.isdigit()` is the wrong test for "a whole number int() can read": it is True for '²', '³',
'①' and other Unicode digits that int() refuses (ValueError, a 500 in a view). And a string of
thirty digits is a number that no database id column holds (SQLite raises OverflowError).
"""

from __future__ import annotations

# The largest value of a signed 64-bit column (BigAutoField, PositiveBigIntegerField).
MAX_ID = 2**63 - 1


def whole_number(text: str | None, *, maximum: int = MAX_ID) -> int | None:
    """`text` as a non-negative int when it is ASCII digits only and at most `maximum`; else None."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
