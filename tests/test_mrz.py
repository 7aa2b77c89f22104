"""The ID card's zone as a keyboard-wedge reader types it: forgiving of the keyboard, strict on data."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.domain.iin import make_iin
from kiosk.domain.mrz import CardProblem, CardRefused, check_holder, compose_td1, parse_td1

PARENT = make_iin(dt.date(1988, 4, 12), "F", 1234)
CHILD = make_iin(dt.date(2015, 6, 1), "M", 1)
CARD = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), "NURLANQYZY", "AIGERIM")
ALPHABET = string.ascii_uppercase + string.digits + "<"


def test_a_card_reads_back_exactly() -> None:
    card = parse_td1(CARD)
    assert card.iin == PARENT
    assert card.document_number == "043218765"
    assert card.birth_date == dt.date(1988, 4, 12) and card.sex == "F"
    assert card.expires == dt.date(2031, 5, 20)
    assert (card.surname, card.given_names) == ("NURLANQYZY", "AIGERIM")


@pytest.mark.parametrize(
    "typed",
    [
        CARD.replace("\n", "\r\n") + "\r\n",  # CRLF and a trailing newline
        CARD.replace("\n", "\r") + "\r",  # CR only, as many readers send
        CARD + "\n",
        CARD.lower(),  # Caps Lock off
        " " + CARD.replace("\n", " \n ") + " \t",
        "\n\n" + CARD.replace("\n", "\r\n\r\n"),  # empty lines between
        CARD.replace("\n", ""),  # a reader with no line breaks at all
    ],
)
def test_what_keyboard_wedge_readers_type_is_read(typed: str) -> None:
    assert parse_td1(typed).iin == PARENT


def _set(card: str, line: int, pos: int, char: str) -> str:
    lines = card.split("\n")
    lines[line] = lines[line][:pos] + char + lines[line][pos + 1 :]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("line", "pos", "char", "problem"),
    [
        (0, 14, "0", CardProblem.UNREADABLE),  # document number check digit
        (1, 6, "0", CardProblem.UNREADABLE),  # birth date check digit
        (1, 14, "0", CardProblem.UNREADABLE),  # expiry check digit
        (1, 29, "0", CardProblem.UNREADABLE),  # composite check digit
        (0, 2, "R", CardProblem.NOT_KAZAKH),  # issued by RUS... or anything but KAZ
        (1, 15, "U", CardProblem.NOT_KAZAKH),
    ],
)
def test_each_check_is_strict(line: int, pos: int, char: str, problem: CardProblem) -> None:
    original = CARD.split("\n")[line][pos]
    bad = _set(CARD, line, pos, char if char != original else "9")
    with pytest.raises(CardRefused) as err:
        parse_td1(bad)
    assert err.value.problem is problem


def test_the_iin_must_agree_with_line_2() -> None:
    # a card whose line 2 says M while the IIN says female: every check digit is right
    bad = compose_td1("043218765", PARENT, dt.date(2031, 5, 20), "X", "Y", sex="M")
    with pytest.raises(CardRefused) as err:
        parse_td1(bad)
    assert err.value.problem is CardProblem.MISMATCH


def test_expired_card_and_under_18_are_refused_with_their_own_reason() -> None:
    today = dt.date(2026, 11, 22)
    expired = parse_td1(compose_td1("043218765", PARENT, dt.date(2026, 11, 21), "A", "B"))
    with pytest.raises(CardRefused) as err:
        check_holder(expired, today)
    assert err.value.problem is CardProblem.EXPIRED
    check_holder(parse_td1(compose_td1("043218765", PARENT, today, "A", "B")), today)  # valid through its last day
    young = make_iin(dt.date(2008, 11, 23), "M", 77) or make_iin(dt.date(2008, 11, 23), "M", 78)
    with pytest.raises(CardRefused) as err:
        check_holder(parse_td1(compose_td1("043218765", young, dt.date(2030, 1, 1), "A", "B")), today)
    assert err.value.problem is CardProblem.UNDER_18
    eighteen_today = make_iin(dt.date(2008, 11, 22), "M", 77) or make_iin(dt.date(2008, 11, 22), "M", 78)
    check_holder(parse_td1(compose_td1("043218765", eighteen_today, dt.date(2030, 1, 1), "A", "B")), today)


@pytest.mark.parametrize("text", ["", "\n\n\n", "IDKAZ", CARD[:-1], CARD + "\nEXTRA<LINE", "Ä" * 90, "<" * 90])
def test_garbage_is_unreadable_not_a_crash(text: str) -> None:
    with pytest.raises(CardRefused) as err:
        parse_td1(text)
    assert err.value.problem is CardProblem.UNREADABLE


names = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=12)
cards = st.builds(
    lambda born, sex, serial, number, expires, surname, given: (
        make_iin(born, sex, serial),
        number,
        expires,
        surname,
        given,
    ),
    st.dates(dt.date(1930, 1, 1), dt.date(2008, 1, 1)),
    st.sampled_from("MF"),
    st.integers(0, 9999),
    st.text(alphabet=string.digits, min_size=9, max_size=9),
    st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    names,
    names,
)


@given(cards)
def test_every_card_built_by_the_algorithm_reads_back(card) -> None:
    iin, number, expires, surname, given_name = card
    if iin is None:
        return
    read = parse_td1(compose_td1(number, iin, expires, surname, given_name))
    assert (read.iin, read.document_number, read.expires) == (iin, number, expires)
    assert (read.surname, read.given_names) == (surname, given_name)


@settings(max_examples=300)
@given(cards, st.integers(0, 1), st.integers(0, 29), st.sampled_from(ALPHABET))
def test_every_single_character_change_in_lines_1_and_2_is_caught(card, line, pos, char) -> None:
    """Line 3, the name, has no check digit in ICAO 9303, so only lines 1 and 2 can promise this."""
    iin, number, expires, surname, given_name = card
    if iin is None:
        return
    good = compose_td1(number, iin, expires, surname, given_name)
    if good.split("\n")[line][pos] == char:
        return
    with pytest.raises(CardRefused):
        parse_td1(_set(good, line, pos, char))


def test_every_single_character_change_exhaustively_for_one_card() -> None:
    caught = 0
    for line in (0, 1):
        for pos in range(30):
            for char in ALPHABET:
                if CARD.split("\n")[line][pos] == char:
                    continue
                with pytest.raises(CardRefused):
                    parse_td1(_set(CARD, line, pos, char))
                caught += 1
    assert caught == 2 * 30 * (len(ALPHABET) - 1)
