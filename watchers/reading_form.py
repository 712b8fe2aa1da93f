"""The letters the matcher reads a text in: four ways of writing put right.

- Headline case. Many outlets capitalise every word of a title ("Armenia Sends
  Ambassador To CSTO Summit Instead Of PM"). The reader tells a name by its
  capital ("sends an envoy, not Mirzoyan"), so "To" and "Of" would pass for
  names. In a title written so, the `headline_word` cue words (to, of, at, will:
  words that are never names) are read lower-case.
- A dateline. A wire summary opens with where it was filed ("MINSK, Nov 23
  (Reuters) -", "МОСКВА, 23 ноября. /ТАСС/."): a city, not an actor in the news.
  It is read as blank, so that "MINSK" is not Belarus skipping the summit the
  sentence reports.
- An outlet's name closing a title ("... - Sputnik Армения", "... | Новости Армении",
  "... - РИА Новости, 22.11.2023"), as page titles and news searches give them: it
  says who published the item, so its country is no actor either. A last segment
  after a dash or a bar, of a few words, one of them an `outlet` cue word, is read
  as blank.
- Look-alike letters of another script. A word typed with a stray Latin letter
  among Cyrillic ones ("OДКБ" with a Latin O, "Вiрменія" with a Latin i), or the
  other way round, is read in the script of its other letters.

All four change letters one for one, so offsets into the form read are offsets into
the text as shown, and evidence is quoted from the text as shown.
"""

from __future__ import annotations

import re

from allywatch.language.bounded import Pattern

# Latin letters drawn like Cyrillic ones, and their Cyrillic twins (і is Ukrainian).
_LATIN = "AaBCcEeHIiKMOoPpTXxy"
_CYRILLIC = "АаВСсЕеНІіКМОоРрТХху"
_TO_CYRILLIC = str.maketrans(_LATIN, _CYRILLIC)
_TO_LATIN = str.maketrans(_CYRILLIC, _LATIN)
_ANY_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_MIXED = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")
_LETTERS = re.compile(r"[^\W\d_]+")
# A word of a title, with its apostrophes ("Won't", "Iran's").
_TITLE_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_FEWEST_WORDS = 4  # shorter titles say too little to tell their case
_SENTENCE_START = re.compile(r"(?:^|[.!?…][\"'”’»)]*)\s*$")  # what stands before a sentence
_SEPARATOR = re.compile(r"\s(?:\||[-—–])\s")  # a spaced dash or bar, between title segments
_OUTLET_WORDS = 5  # "РИА Новости, 22.11.2023", "22.11.2023, Sputnik Армения", "The Moscow Times"
# A dateline: a place in capitals, then a date, an agency or both, then a dash ("MINSK,
# Belarus, Nov. 23 (AP) —", "ALMATY (Reuters) -"), or a Russian wire's date and agency
# ("ЕРЕВАН, 23 ноября. /ТАСС/.", "МОСКВА, 23 ноя — РИА Новости.", "КИЇВ, 23 листопада.
# /Укрінформ/.").
_PLACE_EN = r"[A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+){0,2}"
_DATE_EN = r"[A-Z][a-z]{2,8}\.? \d{1,2}|\d{1,2} [A-Z][a-z]{2,8}\.?"
_PLACE_CYRILLIC = r"[А-ЯЁІЇЄҐ][А-ЯЁІЇЄҐ-]+(?: [А-ЯЁІЇЄҐ][А-ЯЁІЇЄҐ-]+){0,2}"
_AGENCY_EN = r" \([A-Za-z][\w .-]{0,30}\)"
_DATELINE = re.compile(
    rf"(?:{_PLACE_EN}(?:, [A-Z][a-z]+)?(?:,? (?:{_DATE_EN})(?:{_AGENCY_EN})?|{_AGENCY_EN})"
    r" ?[-—–] "
    rf"|{_PLACE_CYRILLIC}, \d{{1,2}} [а-яёіїєґ]{{3,9}}\.?(?: \d{{4}})?"
    r"(?:[.,]? ?/[^/\n]{1,40}/\.?|,? [-—–] [^.\n]{1,40}\.)) ?"
)


def one_script(text: str) -> str:
    """`text` with each word that mixes Latin and Cyrillic letters written in one script:
    the script of its letters that have no look-alike in the other. A word with such
    letters of both scripts, or of neither, is left as it is."""
    # The cheap tests first: most texts have no Cyrillic letter at all.
    if text.isascii() or _ANY_CYRILLIC.search(text) is None or _MIXED.search(text) is None:
        return text
    return _LETTERS.sub(_one_script_word, text)


def _one_script_word(found: re.Match[str]) -> str:
    word = found.group()
    latin = cyrillic = False
    for char in word:
        if char.isascii():
            latin = latin or char not in _LATIN
        elif "\u0400" <= char <= "\u04ff":
            cyrillic = cyrillic or char not in _CYRILLIC
    if cyrillic and not latin:
        return word.translate(_TO_CYRILLIC)
    if latin and not cyrillic:
        return word.translate(_TO_LATIN)
    return word


def headline_case(title: str, headline_word: Pattern) -> str:
    """`title` with its `headline_word` words lower-case where it is written in headline
    case: every other word of letters begins with a capital. A word opening the title or
    a sentence in it keeps its capital ("Summit Without Armenia? Not So Fast")."""
    words = list(_TITLE_WORD.finditer(title))
    if len(words) < _FEWEST_WORDS:
        return title
    capitalised: list[int] = []
    for word in words:
        text = word.group()
        if headline_word.fullmatch(text):
            if text[0].isupper() and not _SENTENCE_START.search(title, 0, word.start()):
                capitalised.append(word.start())
        elif not text[0].isupper():
            return title  # sentence case, or a headline-case word the list lacks
    if not capitalised:
        return title
    letters = list(title)
    for start in capitalised:
        lower = letters[start].lower()
        if len(lower) == 1:  # one letter for one ("İ" lower-cases to two)
            letters[start] = lower
    return "".join(letters)


def without_outlet(title: str, outlet: Pattern) -> str:
    """`title` with the outlet's name closing it, if any, read as spaces."""
    separators = list(_SEPARATOR.finditer(title))
    if not separators:
        return title
    start, end = separators[-1].span()
    segment = title[end:]
    if len(segment.split()) > _OUTLET_WORDS or outlet.search(segment) is None:
        return title
    return title[:start] + " " * (len(title) - start)


def without_dateline(summary: str) -> str:
    """`summary` with the dateline it opens with, if any, read as spaces."""
    found = _DATELINE.match(summary)
    if found is None:
        return summary
    return " " * found.end() + summary[found.end() :]
