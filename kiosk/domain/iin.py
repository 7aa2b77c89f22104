"""The IIN (ЖСН/ИИН), Kazakhstan's 12-digit personal number: checksum, birth date, sex, age.

Rules from government decree No. 406 of 22.05.2007: digits 1-6 are the birth date YYMMDD, digit 7
gives the century and sex (1/2: 1800s, 3/4: 1900s, 5/6: 2000s; odd is male), digit 12 checks the
rest with weights 1..11, and when that gives 10, with weights 3..11,1,2; a second 10 means the
number is never issued. No maintained library has this, so it is ours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

WEIGHTS_1 = tuple(range(1, 12))
WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
CENTURIES = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


class IinProblem(Enum):
    """Why a number is refused; each has its own message for the visitor."""

    NOT_12_DIGITS = "not_12_digits"
    CHECKSUM = "checksum"
    NEVER_ISSUED = "never_issued"  # the second pass gives 10 as well
    CENTURY = "century"
    DATE = "date"
    BIN = "bin"  # a company's business identification number typed as an IIN


class InvalidIin(ValueError):
    def __init__(self, problem: IinProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class Iin:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    @property
    def masked(self) -> str:
        """What a screen or a log may show: the first two and last two digits."""
        return mask(self.number)


def mask(number: str) -> str:
    return number[:2] + "•" * 8 + number[-2:] if len(number) == 12 else "•" * len(number)


def check_digit(first11: str) -> int | None:
    """The 12th digit for these 11, or None when no IIN can be made of them."""
    digits = [int(c) for c in first11]
    r = sum(d * w for d, w in zip(digits, WEIGHTS_1, strict=True)) % 11
    if r == 10:
        r = sum(d * w for d, w in zip(digits, WEIGHTS_2, strict=True)) % 11
    return None if r == 10 else r


def parse_iin(text: str) -> Iin:
    """Validate a typed or read IIN; raise InvalidIin with the reason."""
    number = "".join(text.split())
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        raise InvalidIin(IinProblem.NOT_12_DIGITS)
    expected = check_digit(number[:11])
    if expected is None:
        raise InvalidIin(IinProblem.NEVER_ISSUED)
    if expected != int(number[11]):
        raise InvalidIin(IinProblem.CHECKSUM)
    if number[4] in "456":  # an IIN's 5th digit is the tens of a day (0-3); a BIN's is its type
        raise InvalidIin(IinProblem.BIN)
    if number[6] not in CENTURIES:
        raise InvalidIin(IinProblem.CENTURY)
    try:
        born = dt.date(CENTURIES[number[6]] + int(number[:2]), int(number[2:4]), int(number[4:6]))
    except ValueError:
        raise InvalidIin(IinProblem.DATE) from None
    return Iin(number, born, "M" if int(number[6]) % 2 else "F")


def make_iin(birth_date: dt.date, sex: str, serial: int) -> str | None:
    """Build a valid IIN (for tests and demo data); None when this serial gives no check digit."""
    century = {1800: 1, 1900: 3, 2000: 5}[birth_date.year // 100 * 100] + (sex == "F")
    first11 = f"{birth_date:%y%m%d}{century}{serial:04d}"
    digit = check_digit(first11)
    return None if digit is None else first11 + str(digit)
