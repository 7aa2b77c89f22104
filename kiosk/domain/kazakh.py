"""Kazakh case endings after dates, times and numbers: "31 тамызға дейін", "1 сәуірде", "09:50-ден кейін".

A Kazakh ending follows the word before it: its last vowel (vowel harmony: back а о ұ ы, front ә е ө ү і)
and its last sound (a vowel or a voiced consonant, м н ң, or a voiceless consonant). After a number written in
digits the ending follows the number as it is read aloud ("31" is "отыз бір", so "31-ге") and is joined with a
hyphen; after a word (a month name) it is joined directly. A time reads as its minutes, "00" as "нөл".
"""

from __future__ import annotations

import re

BACK = set("аоұы")
FRONT = set("әеөүіэ")
VOWELS = BACK | FRONT | set("иуюяё")
VOICELESS = set("кқпстфхцчшщ")
NASAL = set("мнң")

# the last word of a number read aloud: units, tens, then hundred, thousand, million
UNITS = ("нөл", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз")
TENS = ("", "он", "жиырма", "отыз", "қырық", "елу", "алпыс", "жетпіс", "сексен", "тоқсан")
POWERS = ((10**9, "миллиард"), (10**6, "миллион"), (1000, "мың"), (100, "жүз"))

CASES = ("dative", "locative", "ablative")


def spoken_last_word(number: int) -> str:
    """The last word of ``number`` read aloud in Kazakh: 31 -> "бір", 50 -> "елу", 100 -> "жүз", 0 -> "нөл"."""
    if number < 0:
        number = -number
    if number % 10:
        return UNITS[number % 10]
    if number % 100:
        return TENS[number % 100 // 10]
    if number == 0:
        return UNITS[0]
    for power, word in POWERS:
        if number % power == 0:
            return word
    return UNITS[0]  # not reached: every multiple of 100 is caught above


def _is_front(word: str) -> bool:
    """Vowel harmony: the last vowel that is plainly back or front decides (и, у, ю say nothing alone)."""
    for letter in reversed(word.lower()):
        if letter in BACK or letter == "я":
            return False
        if letter in FRONT:
            return True
    return False


def _ending(word: str, case: str) -> str:
    word = word.lower()
    last = word[-1]
    front = _is_front(word)
    if case == "dative":
        if last in VOICELESS:
            return "ке" if front else "қа"
        return "ге" if front else "ға"
    if case == "locative":
        if last in VOICELESS:
            return "те" if front else "та"
        return "де" if front else "да"
    if case == "ablative":
        if last in VOICELESS:
            return "тен" if front else "тан"
        if last in NASAL:
            return "нен" if front else "нан"
        return "ден" if front else "дан"
    raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")


def inflect(text: str, case: str) -> str:
    """``text`` with the Kazakh ``case`` ending: a date ("31 тамыз"), a time ("09:50") or a number ("5")."""
    text = text.rstrip()
    if not text:
        return text
    digits = re.search(r"(\d+)\D*$", text)
    if text[-1].isdigit() and digits:
        run = digits.group(1)
        word = spoken_last_word(int(run))
        return f"{text}-{_ending(word, case)}"
    words = re.findall(r"[^\W\d_]+", text)
    if not words:
        return text
    return text + _ending(words[-1], case)


def dative(text: str) -> str:
    """Барыс септік: "31 тамыз" -> "31 тамызға" (before "дейін": until)."""
    return inflect(text, "dative")


def locative(text: str) -> str:
    """Жатыс септік: "1 сәуір" -> "1 сәуірде" (on a day)."""
    return inflect(text, "locative")


def ablative(text: str) -> str:
    """Шығыс септік: "09:50" -> "09:50-ден" (before "кейін": after; before "бастап": since)."""
    return inflect(text, "ablative")
