"""Short references a parent can read aloud and type: no 0/O, 1/I/L, and a check character.

Eight random characters from a 31-letter alphabet (about 8.5e11 values) and one Luhn mod N check
character, which catches every single wrong character and most swaps of two neighbours.
Shown as three groups of three: ``7KP-Q4X-9MZ``.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
N = len(ALPHABET)


def check_char(body: str) -> str:
    total = 0
    factor = 2
    for c in reversed(body):
        addend = factor * ALPHABET.index(c)
        total += addend // N + addend % N
        factor = 1 if factor == 2 else 2
    return ALPHABET[(N - total % N) % N]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return body + check_char(body)


def display(reference: str) -> str:
    return "-".join(reference[i : i + 3] for i in range(0, len(reference), 3))


def normalise(typed: str) -> str | None:
    """The reference as stored, or None when it cannot be one (so no database look-up is made)."""
    text = "".join(c for c in typed.upper() if c not in " -\t")
    if len(text) != 9 or any(c not in ALPHABET for c in text):
        return None
    return text if check_char(text[:8]) == text[8] else None
