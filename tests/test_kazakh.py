"""Kazakh case endings after dates, times and numbers, on their whole table, and on the screens that use them."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date

from kiosk.domain.kazakh import ablative, dative, inflect, locative, spoken_last_word

# The dative, locative and ablative endings, written out by hand (not computed), and the spoken last
# words and months that take them: vowel harmony by the last vowel, the consonant class of the last
# sound, "н" before the ablative after м н ң.
BY_ENDINGS = {
    ("ге", "де", "ден"): ["нөл", "бір", "екі", "жеті", "сегіз", "елу", "жүз", "сәуір", "шілде"],
    ("ке", "те", "тен"): ["үш", "төрт", "бес", "жетпіс", "қыркүйек"],
    ("ға", "да", "дан"): ["алты", "тоғыз", "жиырма", "отыз", "қаңтар", "наурыз", "мамыр", "тамыз", "қараша"],
    ("ға", "да", "нан"): ["он", "тоқсан", "мың", "ақпан", "маусым", "қазан", "желтоқсан"],
    ("қа", "та", "тан"): ["қырық", "алпыс"],
    ("ге", "де", "нен"): ["сексен"],
}
ENDINGS = {word: endings for endings, words in BY_ENDINGS.items() for word in words}
UNITS = ["нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз"]
TENS = ["", "он", "жиырма", "отыз", "қырық", "елу", "алпыс", "жетпіс", "сексен", "тоқсан"]
MONTHS = "қаңтар ақпан наурыз сәуір мамыр маусым шілде тамыз қыркүйек қазан қараша желтоқсан".split()
CASES = ("dative", "locative", "ablative")


def _word_of(n: int) -> str:
    """How a number 0-100 ends when read aloud: its units, else its tens, else a hundred."""
    if n == 100:
        return "жүз"
    return UNITS[n % 10] if n % 10 or n == 0 else TENS[n // 10]


@pytest.mark.parametrize("n", range(101))
def test_numbers_0_to_100(n: int) -> None:
    word = _word_of(n)
    assert spoken_last_word(n) == word
    for case, ending in zip(CASES, ENDINGS[word], strict=True):
        assert inflect(str(n), case) == f"{n}-{ending}", (n, case)


def test_bigger_numbers_end_with_their_last_spoken_word() -> None:
    assert dative("1000") == "1000-ға" and ablative("2000") == "2000-нан"
    assert locative("300") == "300-де" and dative("110") == "110-ға" and dative("105") == "105-ке"
    assert ablative("12,5") == "12,5-тен"  # "он екі бүтін оннан бес": the last word is "бес"


@pytest.mark.parametrize("month", MONTHS)
def test_every_month_in_a_date(month: str) -> None:
    for case, ending in zip(CASES, ENDINGS[month], strict=True):
        assert inflect(f"31 {month}", case) == f"31 {month}{ending}"
        assert inflect(f"2027 ж. 1 {month}", case) == f"2027 ж. 1 {month}{ending}"


def test_babel_writes_the_month_names_the_table_knows() -> None:
    for m, month in enumerate(MONTHS, start=1):
        text = format_date(dt.date(2027, m, 1), "d MMMM", locale="kk")
        assert text == f"1 {month}"
        assert dative(text) == f"1 {month}{ENDINGS[month][0]}"


@pytest.mark.parametrize("hour", range(24))
def test_every_hour_and_minute_ending(hour: int) -> None:
    for minute in range(60):
        time = f"{hour:02d}:{minute:02d}"
        word = _word_of(minute) if minute else "нөл"  # "09:00" reads "тоғыз нөл нөл"
        for case, ending in zip(CASES, ENDINGS[word], strict=True):
            assert inflect(time, case) == f"{time}-{ending}", (time, case)


def test_the_examples_of_the_issue() -> None:
    assert dative("31 тамыз") + " дейін" == "31 тамызға дейін"
    assert locative("1 сәуір") + " басталады" == "1 сәуірде басталады"
    assert ablative("09:50") + " кейін" == "09:50-ден кейін"
    assert ablative("18:30") == "18:30-дан" and dative("18:30") == "18:30-ға"


def test_nothing_to_inflect_is_left_alone() -> None:
    assert dative("") == "" and dative("—") == "—"
    with pytest.raises(ValueError):
        inflect("5", "genitive")


# --- on the screens --------------------------------------------------------------------------------


def test_grade1_window_says_until_in_the_dative(client, clock) -> None:
    clock.set_local(2026, 4, 20)
    text = client.get("/kk/services/grade1").get_data(as_text=True)
    assert "Өтініштер 31 тамызға дейін қабылданады" in text


def test_grade1_window_closing_and_opening_in_the_locative(client, clock) -> None:
    clock.set_local(2026, 8, 20)
    assert "Қабылдау 31 тамызда аяқталады" in client.get("/kk/services/grade1").get_data(as_text=True)
    clock.set_local(2026, 9, 2)
    page = client.get("/kk/services/grade1").get_data(as_text=True).replace("\u202f", " ")  # Babel's thin space
    assert "Қабылдау 2027 ж. 1 сәуірде басталады" in page
    # the other languages get the date as it is
    russian = client.get("/ru/services/grade1").get_data(as_text=True).replace("\u202f", " ")
    assert "Приём начнётся 1 апреля 2027 г." in russian


def test_identify_refusals_say_after_in_the_ablative(app) -> None:
    from kiosk.domain import codes
    from kiosk.web.codestep import refusal_message

    retry = dt.datetime(2026, 5, 4, 4, 50, tzinfo=dt.UTC)  # 09:50 in Almaty
    with app.test_request_context("/kk/identify"):
        from flask_babel import force_locale

        with force_locale("kk"):
            text = refusal_message(codes.SendRefused(codes.Refusal.IIN_LIMIT, retry))
            locked = refusal_message(codes.SendRefused(codes.Refusal.LOCKED, retry))
        with force_locale("ru"):
            russian = refusal_message(codes.SendRefused(codes.Refusal.IIN_LIMIT, retry))
    assert "09:50-ден кейін" in text
    assert "09:50-ге дейін" in locked  # locked until: the dative
    assert "после 09:50." in russian


def test_numbers_in_kazakh_messages_read_right(app) -> None:
    """ "3 қадамның 1-сі" and "18 жастан асқан" ("over 18") read wrong; a number stands where no ending is needed."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("kk"):
        assert gettext("Step %(num)d of %(total)d", num=1, total=3) == "1-қадам (барлығы 3)"
        assert "18 жасқа толған" in gettext("The applicant must be 18 or older.")
        assert gettext("A distance between %(min)s and %(max)s km.", min="0.1", max="300") == (
            "Қашықтық 0.1 км-ден 300 км-ге дейін болуы керек."
        )
