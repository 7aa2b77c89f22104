"""The ID card's machine-readable zone (ICAO 9303 TD1: three lines of 30), as a reader types it.

Keyboard-wedge document readers type the zone as keystrokes: lines end in CR, LF or CRLF, there may
be a trailing newline, stray spaces, lower case when Caps Lock is off. We forgive all of that and
nothing else: every check digit must hold, and the fields with no check digit of their own (issuing
state, nationality, sex, fillers) must have exactly the form a Kazakh card has, so that any single
misread character in lines 1 and 2 is caught. Line 3, the name, has no check digit in ICAO 9303.
The one Python MRZ library is GPL and unmaintained, hence our own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum

from kiosk.domain.iin import InvalidIin, parse_iin

LINE = 30
ALPHABET = re.compile(r"^[A-Z0-9<]{30}$")
WEIGHTS = (7, 3, 1)
DOCUMENT_CODE = "ID"
STATE = "KAZ"


class CardProblem(Enum):
    UNREADABLE = "unreadable"  # shape or a check digit: "card not read, try again"
    NOT_KAZAKH = "not_kazakh"
    MISMATCH = "mismatch"  # the IIN's birth date or sex differs from line 2
    EXPIRED = "expired"
    UNDER_18 = "under_18"


class CardRefused(ValueError):
    def __init__(self, problem: CardProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


@dataclass(frozen=True)
class IdCard:
    document_number: str
    iin: str
    birth_date: dt.date
    sex: str
    expires: dt.date
    surname: str
    given_names: str


def char_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    if c == "<":
        return 0
    return ord(c) - ord("A") + 10


def check_digit(field: str) -> str:
    return str(sum(char_value(c) * WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


def normalise(raw: str) -> list[str]:
    """The three lines, as forgiving of the keyboard as we dare to be."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").upper()
    lines = [re.sub(r"[ \t]", "", line) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) == 1 and len(lines[0]) == 3 * LINE:  # a reader that sends no line breaks
        lines = [lines[0][i : i + LINE] for i in range(0, 3 * LINE, LINE)]
    return lines


def parse_td1(raw: str) -> IdCard:
    """Read a Kazakh ID card's zone; raise CardRefused(UNREADABLE/NOT_KAZAKH/MISMATCH)."""
    lines = normalise(raw)
    if len(lines) != 3 or not all(ALPHABET.match(line) for line in lines):
        raise CardRefused(CardProblem.UNREADABLE, "shape")
    l1, l2, l3 = lines
    if l1[0:2] != DOCUMENT_CODE:
        raise CardRefused(CardProblem.UNREADABLE, "document code")
    if l1[2:5] != STATE:
        raise CardRefused(CardProblem.NOT_KAZAKH, "issuing state")
    number, iin_text, filler = l1[5:14], l1[15:27], l1[27:30]
    if not number.isdigit() or l1[14] != check_digit(number):
        raise CardRefused(CardProblem.UNREADABLE, "document number")
    if filler != "<<<" or not iin_text.isdigit():
        raise CardRefused(CardProblem.UNREADABLE, "optional data")
    born, sex, expires = l2[0:6], l2[7], l2[8:14]
    if not born.isdigit() or l2[6] != check_digit(born):
        raise CardRefused(CardProblem.UNREADABLE, "birth date")
    if not expires.isdigit() or l2[14] != check_digit(expires):
        raise CardRefused(CardProblem.UNREADABLE, "expiry date")
    if sex not in "MF" or l2[18:29] != "<" * 11:
        raise CardRefused(CardProblem.UNREADABLE, "line 2 fields")
    if l2[15:18] != STATE:
        raise CardRefused(CardProblem.NOT_KAZAKH, "nationality")
    if l2[29] != check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]):
        raise CardRefused(CardProblem.UNREADABLE, "composite")
    try:
        iin = parse_iin(iin_text)
    except InvalidIin:
        raise CardRefused(CardProblem.UNREADABLE, "iin") from None
    if iin_text[:6] != born or iin.sex != sex:
        raise CardRefused(CardProblem.MISMATCH)
    try:
        expiry = dt.date(2000 + int(expires[:2]), int(expires[2:4]), int(expires[4:6]))
    except ValueError:
        raise CardRefused(CardProblem.UNREADABLE, "expiry date") from None
    name = l3.rstrip("<")
    if not re.fullmatch(r"[A-Z]+(<[A-Z]+)*(<<[A-Z]+(<[A-Z]+)*)?", name):
        raise CardRefused(CardProblem.UNREADABLE, "name")
    surname, _, given = name.partition("<<")
    return IdCard(number, iin.number, iin.birth_date, sex, expiry, surname.replace("<", " "), given.replace("<", " "))


def check_holder(card: IdCard, today: dt.date, adult_age: int = 18) -> None:
    """Refuse an expired card, or a holder too young to apply for a child."""
    if card.expires < today:
        raise CardRefused(CardProblem.EXPIRED)
    iin = parse_iin(card.iin)
    if iin.age_on(today) < adult_age:
        raise CardRefused(CardProblem.UNDER_18)


def compose_td1(
    document_number: str, iin: str, expires: dt.date, surname: str, given_names: str, sex: str | None = None
) -> str:
    """Build a card's zone with every check digit right: test and demo cards, never real ones."""
    born = iin[:6]
    sex = sex or ("M" if int(iin[6]) % 2 else "F")
    l1 = f"{DOCUMENT_CODE}{STATE}{document_number}{check_digit(document_number)}{iin}<<<"
    exp = f"{expires:%y%m%d}"
    l2_head = f"{born}{check_digit(born)}{sex}{exp}{check_digit(exp)}{STATE}{'<' * 11}"
    l2 = l2_head + check_digit(l1[5:30] + l2_head[0:7] + l2_head[8:15] + l2_head[18:29])
    name = (surname.replace(" ", "<") + "<<" + given_names.replace(" ", "<"))[:LINE]
    return "\n".join([l1, l2, name.ljust(LINE, "<")])
