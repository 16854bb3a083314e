"""Resolve what people type into ERP values, without a model: names, document numbers, periods.

* Names of customers and suppliers are linked to database rows with rapidfuzz, either
  from an argument (``NameIndex.lookup("Nordwind")``) or found inside a sentence
  (``NameIndex.find_in_text``). Two equally good candidates are reported as ambiguous,
  never guessed.
* Invoice, order, PO, RMA, shipment and tracking numbers and SKUs are matched by regex.
* Dates are parsed by dateparser; the periods it has no notion of are the small rules of
  ``find_period`` (documented there): "last month", "in March 2025", "Q3", "since
  2025-01-01", "between X and Y", "last 30 days", "this year", …
"""

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.easter import easter
from dateutil.relativedelta import relativedelta
from rapidfuzz import fuzz, process

# --- document numbers -------------------------------------------------------------------

INVOICE_RE = re.compile(r"\bINV[-\s]?(\d{4})[-\s]?(\d{1,5})\b", re.IGNORECASE)
ORDER_RE = re.compile(r"\bSO[-\s]?(\d{4,6})\b", re.IGNORECASE)
PO_RE = re.compile(r"\bPO[-\s]?(\d{4})[-\s]?(\d{1,4})\b", re.IGNORECASE)
RMA_RE = re.compile(r"\bRMA[-\s]?(\d{4})[-\s]?(\d{1,4})\b", re.IGNORECASE)
CREDIT_NOTE_RE = re.compile(r"\bCN[-\s]?(\d{4})[-\s]?(\d{1,4})\b", re.IGNORECASE)
SHIPMENT_RE = re.compile(r"\bSH[-\s]?(\d{6})\b", re.IGNORECASE)
PAYMENT_RE = re.compile(r"\bPAY[-\s]?(\d{4})[-\s]?(\d{1,5})\b", re.IGNORECASE)
SKU_BODY = r"(?!(?:INV|RMA|PAY|SO|PO|SH|CN)-)([A-Z]{3})-(\d{4})"
"""Three letters, a dash, four digits, and not a document prefix (``RMA-0087`` is no SKU)."""
SKU_RE = re.compile(rf"\b{SKU_BODY}\b", re.IGNORECASE)
TRACKING_RE = re.compile(r"\b(1Z[0-9A-Z]{16}|SCH\d{10}|\d{11,20})\b")
CUSTOMER_NUMBER_RE = re.compile(
    r"\b(?:customer|account|cust\.?|client)\s*(?:no\.?|number|#|nr\.?)?\s*(\d{5})\b",
    re.IGNORECASE,
)


def canonical_invoice(match: re.Match[str]) -> str:
    """Spell an ``INVOICE_RE`` match as stored: ``INV-2025-00412``."""
    return f"INV-{match.group(1)}-{int(match.group(2)):05d}"


def canonical_order(match: re.Match[str]) -> str:
    """Spell an ``ORDER_RE`` match as stored: ``SO-4410``."""
    return f"SO-{int(match.group(1))}"


def canonical_po(match: re.Match[str]) -> str:
    """Spell a ``PO_RE`` match as stored: ``PO-2025-0193``."""
    return f"PO-{match.group(1)}-{int(match.group(2)):04d}"


def canonical_rma(match: re.Match[str]) -> str:
    """Spell an ``RMA_RE`` match as stored: ``RMA-2025-0031``."""
    return f"RMA-{match.group(1)}-{int(match.group(2)):04d}"


def canonical_sku(match: re.Match[str]) -> str:
    """Spell a ``SKU_RE`` match as stored: ``BRK-2210``."""
    return f"{match.group(1).upper()}-{match.group(2)}"


def canonical_number(kind: str, text: str) -> str | None:
    """Return ``text`` as the stored spelling of a document number of ``kind``, or ``None``.

    ``kind`` is one of ``invoice``, ``order``, ``po``, ``rma``, ``sku``, ``shipment``.
    """
    patterns = {
        "invoice": (INVOICE_RE, canonical_invoice),
        "order": (ORDER_RE, canonical_order),
        "po": (PO_RE, canonical_po),
        "rma": (RMA_RE, canonical_rma),
        "sku": (SKU_RE, canonical_sku),
        "shipment": (SHIPMENT_RE, lambda m: f"SH-{m.group(1)}"),
        "credit_note": (CREDIT_NOTE_RE, lambda m: f"CN-{m.group(1)}-{int(m.group(2)):04d}"),
        "payment": (PAYMENT_RE, lambda m: f"PAY-{m.group(1)}-{int(m.group(2)):05d}"),
    }
    pattern, spell = patterns[kind]
    match = pattern.fullmatch(text.strip())
    return spell(match) if match else None


# --- names ------------------------------------------------------------------------------

LEGAL_FORMS = frozenset(
    "gmbh co kg ag ek e k ltd bv b v sarl sas plc inc llc gbr ohg kgaa se sa nv and".split()
)
"""Words of legal forms, dropped from the "core" name people actually say."""

_POSSESSIVE = re.compile(r"(\w)['’]s\b")


_AND = frozenset({"and", "und", "n"})

COUNTRIES: dict[str, str] = {
    "germany": "DE", "german": "DE", "austria": "AT", "austrian": "AT",
    "switzerland": "CH", "swiss": "CH", "france": "FR", "french": "FR",
    "netherlands": "NL", "holland": "NL", "dutch": "NL", "belgium": "BE", "belgian": "BE",
    "luxembourg": "LU", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
    "britain": "GB", "british": "GB", "england": "GB", "ireland": "IE", "irish": "IE",
    "italy": "IT", "italian": "IT", "spain": "ES", "spanish": "ES", "portugal": "PT",
    "poland": "PL", "polish": "PL", "czech republic": "CZ", "czechia": "CZ", "czech": "CZ",
    "slovakia": "SK", "hungary": "HU", "hungarian": "HU", "slovenia": "SI", "croatia": "HR",
    "denmark": "DK", "danish": "DK", "sweden": "SE", "swedish": "SE", "norway": "NO",
    "finland": "FI", "usa": "US", "united states": "US", "china": "CN", "chinese": "CN",
}  # fmt: skip
"""Country names and adjectives (normalised) to the ISO codes the ERP stores."""


def normalise(text: str) -> str:
    """Fold case and accents, drop punctuation and possessives: ``Müller's`` → ``muller``."""
    text = _POSSESSIVE.sub(r"\1", text)
    folded = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", stripped).split())


def core_name(name: str) -> str:
    """Normalise a name, dropping legal forms: ``Müller Metallbau GmbH`` → ``muller metallbau``."""
    words = [word for word in normalise(name).split() if word not in LEGAL_FORMS]
    return " ".join(words) or normalise(name)


@dataclass(frozen=True, slots=True)
class Named:
    """A customer or supplier as the resolver sees it."""

    id: int
    number: str
    name: str
    core: str
    head: str
    """First word of the core name: the surname or place people use on its own."""


@dataclass(frozen=True, slots=True)
class Mention:
    """A name found in a sentence and the rows it may mean (one: resolved; more: ambiguous)."""

    text: str
    start: int
    end: int
    """Token positions ``[start, end)`` in ``tokens(sentence)``."""
    candidates: tuple[Named, ...]
    consumed: frozenset[int]
    """Token positions the mention explains (the span and adjacent words of the name)."""

    @property
    def resolved(self) -> Named | None:
        """The one row meant, or ``None`` when ambiguous."""
        return self.candidates[0] if len(self.candidates) == 1 else None


EDGE_CUTOFF = 80.0
"""How close a span's first and last words must be to words of the name (typos allowed)."""


def _edges_in_name(first: str, last: str, core: str) -> bool:
    """Whether a span starts and ends with words of the name, not words around it.

    A long name absorbs a neighbouring word within the fuzzy cutoff ("owe eifel
    filtertechnik" scores 90 against "eifel filtertechnik"), which would swallow the word
    that says what is asked; the shorter span without it is tried next.
    """
    names = core.split()
    return all(
        any(fuzz.ratio(word, name) >= EDGE_CUTOFF for name in names) for word in (first, last)
    )


def _head_in_span(words: Sequence[str], head: str) -> bool:
    """Whether the span names the name's distinctive first word, typos allowed.

    A span close to the whole name can differ in just that word ("becker landtechnik" is 94
    against "decker landtechnik": "landtechnik" is shared by dozens of customers); Becker
    is then another firm, not a typo. A typo keeps the first letter and most of the word.
    """
    return any(word[:1] == head[:1] and fuzz.ratio(word, head) >= EDGE_CUTOFF for word in words)


def tokens(text: str) -> list[str]:
    """Split ``text`` into normalised word tokens (the positions ``Mention`` refers to)."""
    return normalise(text).split()


class NameIndex:
    """Customers or suppliers by name and number, for fuzzy lookups."""

    # A typo or a dropped legal form still scores above these; a different name does not.
    LOOKUP_CUTOFF = 86.0
    TIE_MARGIN = 4.0
    SPAN_CUTOFF = 90.0

    def __init__(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Index ``rows`` of ``(id, number, name)``."""
        self.entities = tuple(
            Named(id=i, number=n, name=name, core=(c := core_name(name)), head=c.split()[0])
            for i, n, name in rows
        )
        self.by_number = {entity.number: entity for entity in self.entities}
        # Normalised once per index (it is rebuilt only when rows change): parsing a request
        # reads every name's words, and normalising ~1,000 names cost ~30 ms a turn.
        self.normalised = tuple(normalise(entity.name) for entity in self.entities)
        """Each entity's ``normalise``-d name, in ``entities`` order."""
        self.words = frozenset(word for name in self.normalised for word in name.split())
        """Every word of every normalised name."""
        self._cores = [entity.core for entity in self.entities]
        self._heads = [entity.head for entity in self.entities]

    def __len__(self) -> int:
        return len(self.entities)

    def lookup(self, query: str) -> list[Named]:
        """Return the rows ``query`` (a name, part of one, or a number) means, best first.

        One row: resolved. Several: ambiguous (their scores tie). None: nothing close.
        """
        query = query.strip()
        if query in self.by_number:
            return [self.by_number[query]]
        wanted = core_name(query)
        if not wanted:
            return []
        exact = [
            e
            for e, name in zip(self.entities, self.normalised, strict=True)
            if e.core == wanted or name == wanted
        ]
        if exact:
            return exact
        heads = [e for e in self.entities if e.head == wanted]
        if heads:
            return heads
        scored = process.extract(
            wanted, self._cores, scorer=fuzz.WRatio, limit=10, score_cutoff=self.LOOKUP_CUTOFF
        )
        if not scored:
            return []
        best = scored[0][1]
        return [
            self.entities[index] for _, score, index in scored if best - score < self.TIE_MARGIN
        ]

    def find_in_text(self, text: str, *, ignore: frozenset[str] = frozenset()) -> list[Mention]:
        """Find every name of this index mentioned in ``text``.

        A span of 1-5 words matches a core name closely (typos allowed), or a single
        distinctive word matches the first word of one or more names (``Kessler`` for
        ``Kessler Automotive GmbH``; two Kesslers make the mention ambiguous). Words in
        ``ignore`` (the ERP vocabulary: "price", "stock", …) never match on their own.
        """
        words = tokens(text)
        mentions: list[Mention] = []
        taken: set[int] = set()
        spans = [
            (start, start + size)
            for size in range(min(5, len(words)), 0, -1)
            for start in range(len(words) - size + 1)
        ]
        if not spans or not self.entities:
            return []
        span_texts = [" ".join(words[a:b]) for a, b in spans]
        scores = process.cdist(span_texts, self._cores, scorer=fuzz.ratio, workers=1)
        for (start, end), span_text, row in zip(spans, span_texts, scores, strict=True):
            if taken.intersection(range(start, end)):
                continue
            if words[start] in ignore or words[end - 1] in ignore:
                continue  # "for Nordwind" is the name Nordwind; "stock" is never a name
            if end - start == 1 and span_text in LEGAL_FORMS:
                continue
            best = float(row.max())
            candidates: list[Named] = []
            clipped: set[str] = set()
            if best >= self.SPAN_CUTOFF:
                candidates = [
                    self.entities[i]
                    for i in row.nonzero()[0]
                    if best - float(row[i]) < self.TIE_MARGIN
                    and row[i] >= self.SPAN_CUTOFF
                    and _edges_in_name(words[start], words[end - 1], self.entities[i].core)
                    and _head_in_span(words[start:end], self.entities[i].head)
                ]
            elif end - start == 1 and len(span_text) >= 4 and not span_text.isdigit():
                candidates = [
                    e for e in self.entities if fuzz.ratio(span_text, e.head) >= self.SPAN_CUTOFF
                ]
                # "Hoffmann Kfz": the next words narrow several Hoffmanns down; a clipped word
                # ("eifel filter" for Eifel Filtertechnik) narrows when it begins a name word.
                following = end
                while len(candidates) > 1 and following < len(words):
                    word = words[following]
                    narrowed = [c for c in candidates if word in c.core.split()]
                    if not narrowed and len(word) >= 4:
                        narrowed = [
                            c for c in candidates if any(w.startswith(word) for w in c.core.split())
                        ]
                        if narrowed:
                            clipped.add(word)
                    if not narrowed:
                        break
                    candidates = narrowed
                    following += 1
            if not candidates:
                continue
            consumed = set(range(start, end))
            # Singular or plural alike: "Baker & Son" for "Baker & Sons Ltd".
            name_words = {
                form
                for c in candidates
                for w in normalise(c.name).split()
                for form in ((w, w.removesuffix("s"), f"{w}s") if len(w) > 3 else (w,))
            }
            # Words right after the span that belong to the name ("Hoffmann Kfz") are explained too.
            position = end
            while position < len(words):
                if words[position] in name_words or words[position] in clipped:
                    consumed.add(position)
                    position += 1
                elif (  # "Baker and Sons" for "Baker & Sons Ltd": the "&" spelled out
                    words[position] in _AND
                    and position + 1 < len(words)
                    and words[position + 1] in name_words
                ):
                    consumed |= {position, position + 1}
                    position += 2
                else:
                    break
            taken.update(consumed)
            mentions.append(Mention(span_text, start, end, tuple(candidates), frozenset(consumed)))
        return sorted(mentions, key=lambda mention: mention.start)


# --- periods ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive date range; ``start`` or ``end`` is ``None`` when open."""

    start: date | None
    end: date | None
    text: str
    """The words of the request it was read from."""
    span: tuple[int, int]
    """Character positions of those words in the request."""
    anchored: bool = True
    """False for a month or quarter named without a year (taken as the latest one begun)."""


class PeriodError(ValueError):
    """A date in the request cannot be read; the message quotes it and shows a valid form."""


class ManyPeriods(PeriodError):
    """The request compares or lists several periods (a model can split that; rules cannot)."""


_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name} | {
    name.lower(): index for index, name in enumerate(calendar.month_abbr) if name
}
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"  # noqa: E501
_MONTH_NOT_MAY = _MONTH.replace("|may|", "|")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
DATE_TEXT = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?"
    r"|today|yesterday|tomorrow)"
)
_MONTH_OR_YEAR = rf"(?:(?P<m>{_MONTH})(?:\s+(?P<y>20\d{{2}}))?|(?P<yy>20\d{{2}}))"
"""A month (with or without its year) or a year alone, as the bound of a range."""
# "H2 last year", "q1 this year": a half or quarter of the year named relative to today.
_RELATIVE_YEAR = r"\s+(?:of\s+)?(?P<rel>this|last|previous)\s+year"


def _relative_year(m: re.Match[str], today: date) -> str | None:
    """Return the year "this/last year" after a half or quarter names, as digits, or ``None``."""
    rel = (m.groupdict().get("rel") or "").lower()
    if not rel:
        return None
    return str(today.year if rel == "this" else today.year - 1)


_LOOKS_LIKE_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")

_UNIT_DAYS = {"day": 1, "week": 7}


def parse_date(text: str, today: date) -> date:
    """Parse one date (``2025-03-01``, ``3 March``, ``March 3rd 2025``, ``yesterday``).

    Raises:
        PeriodError: when dateparser cannot read it.

    """
    import dateparser  # a sixth of a second to import: only requests with a date pay it

    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),  # noqa: DTZ001
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": "DMY",
        },
    )
    if parsed is None:
        raise PeriodError(
            f"I couldn't read the date {text!r}; write it as YYYY-MM-DD, e.g. "
            f"{today.replace(day=1).isoformat()}"
        )
    return parsed.date()


NEAR_FUTURE = timedelta(days=92)
"""How far ahead a day typed without a year may lie ("due 6 july" on 30 June is next week's)."""

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def nearest(day: date, typed: str, today: date) -> date:
    """Return the occurrence of a day typed without a year that the owner most likely means.

    dateparser takes the past one ("6 july" on 30 June 2025 is 6 July 2024); a day that comes
    round again within ``NEAR_FUTURE`` is the coming one, since an ERP's due dates and
    deliveries lie ahead. A day typed with its year is kept as read.
    """
    if day >= today or re.search(r"\b(?:19|20)\d{2}\b", typed):
        return day
    try:
        ahead = day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day
    return ahead if ahead - today <= NEAR_FUTURE else day


def _quarter(year: int, quarter: int) -> tuple[date, date]:
    first = date(year, 3 * quarter - 2, 1)
    return first, first + relativedelta(months=3) - timedelta(days=1)


def _month_number(name: str) -> int:
    """Return the number of a month named in full or abbreviated ("march", "mar", "sept")."""
    name = name.lower()
    return _MONTHS.get(name) or _MONTHS[name[:3]]


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, first + relativedelta(months=1) - timedelta(days=1)


@functools.lru_cache(maxsize=4)
def _rules(today: date) -> tuple[tuple[re.Pattern[str], object], ...]:
    """Return the period rules, most specific first (see ``find_period``).

    Cached per business date: building them (the calendar arithmetic for "last month",
    "last quarter" …) cost about as much as the rest of a fast-path request's parsing.
    """

    def fixed(start: date, end: date) -> object:
        return lambda _m: (start, end)

    monday = today - timedelta(days=today.weekday())
    this_quarter = (today.month - 1) // 3 + 1
    last_quarter_year, last_quarter = (
        (today.year, this_quarter - 1) if this_quarter > 1 else (today.year - 1, 4)
    )
    last_month_start = today.replace(day=1) - relativedelta(months=1)
    next_month = today.replace(day=1) + relativedelta(months=1)

    def between(m: re.Match[str]) -> tuple[date, date]:
        start = nearest(parse_date(m.group("a"), today), m.group("a"), today)
        end = nearest(parse_date(m.group("b"), today), m.group("b"), today)
        return start, end

    def since(m: re.Match[str]) -> tuple[date, date]:
        return parse_date(m.group("a"), today), today

    def before(m: re.Match[str]) -> tuple[None, date]:
        return None, parse_date(m.group("a"), today) - timedelta(days=1)

    def after(m: re.Match[str]) -> tuple[date, date]:
        return parse_date(m.group("a"), today) + timedelta(days=1), today

    def on_day(m: re.Match[str]) -> tuple[date, date]:
        day = nearest(parse_date(m.group("a"), today), m.group("a"), today)
        return day, day

    def days_of_month(m: re.Match[str]) -> tuple[date, date]:
        # "1-6 july", "between the 1st and 6th of july", "july 1-6": days of one month.
        number = _month_number(m.group("mm") or m.group("mm2"))
        typed_year = m.group("yy") or m.group("yy2")
        year = int(typed_year) if typed_year else today.year
        first, last = int(m.group("d1") or m.group("e1")), int(m.group("d2") or m.group("e2"))
        if not 1 <= first <= last <= calendar.monthrange(year, number)[1]:
            raise PeriodError(f"I couldn't read the days {m.group(0)!r}; e.g. '1-6 July'")
        start, end = date(year, number, first), date(year, number, last)
        if not typed_year and start > today + NEAR_FUTURE:
            start, end = start.replace(year=year - 1), end.replace(year=year - 1)
        return start, end

    def weekday(m: re.Match[str]) -> tuple[date, date]:
        # "on friday", "last friday": the latest one before today ("on monday" on a Monday
        # is today); "next friday": the coming one.
        index = _WEEKDAYS.index(m.group("wd").lower())
        if (m.group("rel") or "").lower() == "next":
            ahead = (index - today.weekday() - 1) % 7 + 1
            day = today + timedelta(days=ahead)
        else:
            back = (today.weekday() - index) % 7
            if back == 0 and (m.group("rel") or "").lower() == "last":
                back = 7
            day = today - timedelta(days=back)
        return day, day

    def last_n(m: re.Match[str]) -> tuple[date, date]:
        count = int(m.group("n") or 1)
        unit = m.group("unit").lower().rstrip("s")
        if unit in _UNIT_DAYS:
            return today - timedelta(days=count * _UNIT_DAYS[unit] - 1), today
        months = count * (12 if unit == "year" else 1)
        return today - relativedelta(months=months) + timedelta(days=1), today

    def quarter(m: re.Match[str]) -> tuple[date, date]:
        number = int(m.group("q"))
        given = m.group("y") or _relative_year(m, today)
        year = int(given) if given else today.year
        start, end = _quarter(year, number)
        if not given and start > today:
            start, end = _quarter(year - 1, number)
        return start, end

    def half(m: re.Match[str]) -> tuple[date, date]:
        # "first half", "H2 2024": January to June or July to December; without a year,
        # the latest such half that has begun.
        second = (m.group("h") or "").lower() in ("second", "2nd") or m.group("hn") == "2"
        given = m.group("y") or _relative_year(m, today)
        year = int(given) if given else today.year
        start = date(year, 7 if second else 1, 1)
        if not given and start > today:
            year -= 1
            start = start.replace(year=year)
        return start, date(year, 12, 31) if second else date(year, 6, 30)

    def current_half(m: re.Match[str]) -> tuple[date, date]:
        # "this half year", "the half-year": the half that today falls in.
        if today.month <= 6:
            return date(today.year, 1, 1), date(today.year, 6, 30)
        return date(today.year, 7, 1), date(today.year, 12, 31)

    def month(m: re.Match[str]) -> tuple[date, date]:
        number = _month_number(m.group("m"))
        given = m.groupdict().get("y")
        year = int(given) if given else today.year
        start, end = _month(year, number)
        if not given and start > today:
            start, end = _month(year - 1, number)
        return start, end

    def last_named_month(m: re.Match[str]) -> tuple[date, date]:
        # "last march": the latest March that has ended ("last june" in June: a year ago).
        number = _month_number(m.group("m"))
        start, end = _month(today.year, number)
        if end >= today:
            start, end = _month(today.year - 1, number)
        return start, end

    def year(m: re.Match[str]) -> tuple[date, date]:
        value = int(m.group("y"))
        return date(value, 1, 1), date(value, 12, 31)

    def since_easter(m: re.Match[str]) -> tuple[date, date]:
        # Easter Sunday of this year, or of last year while this year's is still ahead.
        sunday = easter(today.year)
        return (sunday if sunday <= today else easter(today.year - 1)), today

    def day_of_month(m: re.Match[str]) -> tuple[date, date]:
        # "on the 26th": the latest 26th up to today (this month's, else an earlier one).
        day, month_start = int(m.group("d")), today.replace(day=1)
        for back in range(3):
            first = month_start - relativedelta(months=back)
            if day <= calendar.monthrange(first.year, first.month)[1]:
                found = first.replace(day=day)
                if found <= today:
                    return found, found
        raise PeriodError(f"There is no {m.group(0)!r} in the last months; give the full date")

    def month_or_year(m: re.Match[str]) -> tuple[date, date]:
        if m.group("m"):
            return month(m)
        value = int(m.group("yy"))
        return date(value, 1, 1), date(value, 12, 31)

    def since_month(m: re.Match[str]) -> tuple[date, date]:
        return month_or_year(m)[0], today

    def weekend(m: re.Match[str]) -> tuple[date, date]:
        # "over the weekend": the latest Saturday and Sunday up to today ("last weekend" on a
        # Saturday or Sunday: the one before).
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        if (m.group("rel") or "").lower() in ("last", "previous") and today.weekday() >= 5:
            saturday -= timedelta(days=7)
        return saturday, min(saturday + timedelta(days=1), today)

    def since_weekday(m: re.Match[str]) -> tuple[date, date]:
        # "since friday", "since last monday": from that day (as "on friday" reads it) to today.
        return weekday(m)[0], today

    def since_last(m: re.Match[str]) -> tuple[date, date]:
        # "since last week": from the start of that week (month, quarter) to today.
        unit = m.group("unit").lower()
        if unit == "week":
            return monday - timedelta(days=7), today
        if unit == "month":
            return last_month_start, today
        return _quarter(last_quarter_year, last_quarter)[0], today

    def before_year(m: re.Match[str]) -> tuple[None, date]:
        return None, year(m)[0] - timedelta(days=1)

    def after_month(m: re.Match[str]) -> tuple[date, date]:
        return month_or_year(m)[1] + timedelta(days=1), today

    flags = re.IGNORECASE
    return (
        (
            re.compile(
                rf"\b(?:between|from)\s+(?P<a>{DATE_TEXT})\s+(?:and|to|until|-)\s+(?P<b>{DATE_TEXT})\b",
                flags,
            ),
            between,
        ),
        (
            re.compile(
                r"\b(?:(?:between|from)\s+)?(?:the\s+)?(?P<d1>[12]?\d|3[01])(?:st|nd|rd|th)?"
                r"\s*(?:-|–|to|until|and)\s*(?:the\s+)?(?P<d2>[12]?\d|3[01])(?:st|nd|rd|th)?"
                rf"\s+(?:of\s+)?(?P<mm>{_MONTH})(?:\s+(?P<yy>20\d{{2}}))?\b"
                rf"|\b(?P<mm2>{_MONTH})\s+(?P<e1>[12]?\d|3[01])(?:st|nd|rd|th)?\s*(?:-|–|to)\s*"
                r"(?P<e2>[12]?\d|3[01])(?:st|nd|rd|th)?(?:\s+(?P<yy2>20\d{2}))?\b",
                flags,
            ),
            days_of_month,
        ),
        (re.compile(rf"\b(?:since|starting|from)\s+(?P<a>{DATE_TEXT})\b", flags), since),
        (re.compile(rf"\bbefore\s+(?P<a>{DATE_TEXT})\b", flags), before),
        (re.compile(rf"\bafter\s+(?P<a>{DATE_TEXT})\b", flags), after),
        # A whole month or year as the bound: "since march" (its 1st), "before 2025",
        # "after april" (the day after its last). "from march" stays the month itself, and
        # "before june" is left unread: since the records began, or since January?
        (re.compile(rf"\bsince\s+{_MONTH_OR_YEAR}\b", flags), since_month),
        (re.compile(r"\bsince\s+easter\b", flags), since_easter),
        # "since new year", "since the turn of the year": since January 1st of this year.
        (
            re.compile(r"\bsince\s+(?:the\s+)?(?:new\s+year|turn\s+of\s+the\s+year)\b", flags),
            lambda m: (date(today.year, 1, 1), today),
        ),
        # One weekend, named as such ("over the weekend"); "on weekends" is every weekend.
        (
            re.compile(
                r"\b(?:(?:on|over|at|during|from)\s+)?(?:the\s+|(?P<rel>last|previous|past)\s+)"
                r"weekend\b(?!s)",
                flags,
            ),
            weekend,
        ),
        (
            re.compile(
                rf"\bsince\s+(?:(?P<rel>last|this\s+past)\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b",
                flags,
            ),
            since_weekday,
        ),
        (
            re.compile(
                r"\bsince\s+(?:the\s+start\s+of\s+)?(?:last|previous)\s+"
                r"(?P<unit>week|month|quarter)\b",
                flags,
            ),
            since_last,
        ),
        (re.compile(r"\bbefore\s+(?P<y>20\d{2})\b", flags), before_year),
        (re.compile(rf"\bafter\s+{_MONTH_OR_YEAR}\b", flags), after_month),
        (
            re.compile(
                r"\b(?:in\s+the\s+|over\s+the\s+|during\s+the\s+|for\s+the\s+)?(?:last|past|previous)\s+(?P<n>\d{1,3})\s+(?P<unit>days?|weeks?|months?|years?)\b",
                flags,
            ),
            last_n,
        ),
        (
            re.compile(
                r"\b(?:(?:in\s+|for\s+|during\s+)?(?:the\s+)?(?P<h>first|1st|second|2nd)\s+half"
                r"(?:\s+of)?(?:\s+the)?(?:\s+year)?|H(?P<hn>[12]))"
                rf"(?:\s+(?:of\s+)?(?P<y>20\d{{2}})|{_RELATIVE_YEAR})?\b",
                flags,
            ),
            half,
        ),
        (
            re.compile(
                r"\b(?:(?:in|for|during|over)\s+)?(?:this|the|the\s+current|current)\s+"
                r"half(?:[\s-]+year)?\b(?!\s+(?:of|ago)\b)",
                flags,
            ),
            current_half,
        ),
        # Before "this year"/"last year", which a quarter may be named within ("q1 last year").
        (
            re.compile(
                rf"\b(?:in\s+|for\s+|during\s+)?Q(?P<q>[1-4])(?:[\s/-]+(?P<y>20\d{{2}})|{_RELATIVE_YEAR})?\b",
                flags,
            ),
            quarter,
        ),
        (
            re.compile(r"\b(?:year[-\s]to[-\s]date|ytd|so\s+far\s+this\s+year)\b", flags),
            fixed(date(today.year, 1, 1), today),
        ),
        (
            re.compile(r"\bthis\s+year\b", flags),
            fixed(date(today.year, 1, 1), date(today.year, 12, 31)),
        ),
        (
            re.compile(r"\b(?:last|previous)\s+year\b", flags),
            fixed(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        ),
        (
            re.compile(r"\b(?:this\s+quarter|quarter[-\s]to[-\s]date|qtd)\b", flags),
            fixed(*_quarter(today.year, this_quarter)),
        ),
        (
            re.compile(r"\b(?:last|previous)\s+quarter\b", flags),
            fixed(*_quarter(last_quarter_year, last_quarter)),
        ),
        (
            # "mtd": month to date, which ends today like the month itself in the data.
            re.compile(r"\b(?:this\s+month|month[-\s]to[-\s]date|mtd)\b", flags),
            fixed(*_month(today.year, today.month)),
        ),
        (re.compile(r"\bnext\s+month\b", flags), fixed(*_month(next_month.year, next_month.month))),
        (
            re.compile(r"\b(?:last|previous)\s+month\b", flags),
            fixed(*_month(last_month_start.year, last_month_start.month)),
        ),
        (re.compile(r"\bthis\s+week\b", flags), fixed(monday, monday + timedelta(days=6))),
        (
            re.compile(r"\bnext\s+week\b", flags),
            fixed(monday + timedelta(days=7), monday + timedelta(days=13)),
        ),
        (
            re.compile(r"\b(?:last|previous)\s+week\b", flags),
            fixed(monday - timedelta(days=7), monday - timedelta(days=1)),
        ),
        (re.compile(rf"\b(?:on\s+)?(?P<a>{DATE_TEXT})\b", flags), on_day),
        (
            re.compile(
                rf"\b(?:on\s+)?(?:(?P<rel>last|next|this\s+past)\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b",
                flags,
            ),
            weekday,
        ),
        (
            re.compile(r"\bon\s+the\s+(?P<d>[1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b", flags),
            day_of_month,
        ),
        (
            re.compile(
                rf"\b(?:in\s+|for\s+|during\s+)?(?:last|this\s+past)\s+(?P<m>{_MONTH})\b"
                rf"(?!\s+20\d\d)",
                flags,
            ),
            last_named_month,
        ),
        # "May" alone is too often the verb: it needs "in/for/during" or a year.
        (
            re.compile(
                rf"\b(?:in|for|during|of)\s+(?P<m>{_MONTH})(?:\s+(?P<y>20\d{{2}}))?\b", flags
            ),
            month,
        ),
        (re.compile(rf"\b(?P<m>{_MONTH})\s+(?P<y>20\d{{2}})\b", flags), month),
        (re.compile(rf"\b(?P<m>{_MONTH_NOT_MAY})\b", flags), month),
        (re.compile(r"\b(?:in\s+|for\s+|during\s+|from\s+|of\s+)(?P<y>20\d{2})\b", flags), year),
        # A bare year at the end of a request ("avg invoice value 2024"); elsewhere a number
        # such as 2024 may be a quantity or an amount.
        # After a comparison ("over 2000", "more than 2025") the number is an amount.
        (
            re.compile(
                r"(?<![\w.,€-])(?<!over )(?<!above )(?<!than )(?<!least )(?<!exceeding )"
                # ... or followed only by words that cannot be a unit ("2024 total", "2025 +
                # total", "2024 gesamt").
                r"(?P<y>20\d{2})(?:\s*(?:[+&,]|and|in total|total|totals|gesamt|insgesamt|"
                r"overall|pls|please|bitte|only))*\s*[?!.]*\s*$",
                flags,
            ),
            year,
        ),
    )


def find_period(text: str, today: date, *, clamp: bool = True) -> Period | None:
    """Find the one period ``text`` talks about, relative to ``today``.

    Rules (dateparser reads the single dates inside them):

    * ``between X and Y`` / ``from X to Y``: X to Y; ``since X``: X to today;
      ``before X``: up to the day before X; ``after X``: the day after X to today.
    * ``last|past N days|weeks|months|years``: the N units ending today.
    * ``this year``, ``year to date``, ``YTD``: 1 January to today;
      ``last year``: the previous calendar year; ``in 2024``: that year.
    * ``this quarter``, ``last quarter``, ``Q3``, ``Q3 2024``: calendar quarters; a
      quarter without a year is the latest one that has begun.
    * ``this month``, ``last month``; ``March``, ``in March 2025``: calendar months; a
      month without a year is the latest one that has begun.
    * ``this week`` (Monday to today), ``last week`` (the Monday to Sunday before it).
    * a single date (``2025-03-03``, ``3 March``, ``yesterday``, ``today``): that day; typed
      without a year, the coming one when it is at most ``NEAR_FUTURE`` ahead ("due 6 july").
    * days of one month: ``1-6 July``, ``between the 1st and 6th of July``, ``July 1-6``.
    * a weekday: ``on friday`` / ``last friday`` is the latest one; ``next friday`` ahead.

    * ``this week`` / ``next week`` (Monday to Sunday), ``this month`` / ``next month``,
      ``tomorrow``: for due dates, which lie ahead.

    With ``clamp`` (the default, for what has happened) a range ends today at the latest:
    "this month" is the 1st to today. Returns ``None`` when no period is mentioned.

    Raises:
        PeriodError: a date is malformed (``2025-13-45``), or two different periods
            are mentioned (the request is then ambiguous).

    """
    found: list[Period] = []
    covered: list[tuple[int, int]] = []
    for pattern, rule in _rules(today):
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < b and a < span[1] for a, b in covered):
                continue
            start, end = rule(match)  # type: ignore[operator]
            if clamp and end is not None and (start is None or start <= today):
                end = min(end, today)
            groups = match.groupdict()
            anchored = not (
                (groups.get("m") or groups.get("q")) and not (groups.get("y") or groups.get("rel"))
            )
            if start and end and start > end:
                raise PeriodError(
                    f"The period {match.group(0)!r} ends before it starts; give the earlier "
                    "date first, e.g. 'between 2025-01-01 and 2025-03-31'"
                )
            covered.append(span)
            found.append(Period(start, end, match.group(0), span, anchored))
    for match in _LOOKS_LIKE_DATE.finditer(text):
        if not any(a <= match.start() and match.end() <= b for a, b in covered):
            raise PeriodError(
                f"I couldn't read the date {match.group(0)!r}; write it as YYYY-MM-DD, "
                f"e.g. {today.replace(day=1).isoformat()}"
            )
    if not found:
        return None
    distinct = {(p.start, p.end) for p in found}
    if len(distinct) > 1:
        raise ManyPeriods(
            "The request mentions more than one period ("
            + ", ".join(repr(p.text) for p in found)
            + "); ask about one period at a time"
        )
    return found[0]


__all__ = [
    "CUSTOMER_NUMBER_RE",
    "INVOICE_RE",
    "ORDER_RE",
    "PO_RE",
    "RMA_RE",
    "SHIPMENT_RE",
    "SKU_RE",
    "TRACKING_RE",
    "ManyPeriods",
    "Mention",
    "NameIndex",
    "Named",
    "Period",
    "PeriodError",
    "canonical_number",
    "core_name",
    "find_period",
    "normalise",
    "parse_date",
    "tokens",
]
