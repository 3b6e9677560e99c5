"""Realistic contacts, fast and reproducible: the same seed gives the same contacts.

Faker costs tens of microseconds a call, so it fills small pools once (names
per locale, companies) and a seeded `random.Random` combines them: 100,000
contacts take about a second. Generation is a stream of rows, so a million
contacts need no more memory than a thousand.

Emails are unique by construction — the local part ends with the contact's
number and names have no digits — and look like people's
(`lena.schmidt4821@example.org`), which the emulator accepts. A chosen share
is made invalid on purpose (syntax, placeholders like `test12@example.com`,
disposable domains) to exercise per-record failures.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Generic, TypeVar

from faker import Faker

from chimplink.platforms.base import Consent

__all__ = ["GENERATED_AT", "LABELS", "GeneratedContact", "generate_contacts"]

T = TypeVar("T")

LABELS = ("VIP", "Newsletter", "Wholesale")

_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")
_LOCALE_WEIGHTS = (40, 15, 12, 10, 10, 7, 6)
_POOL = 160
_COMPANIES = 300
_DOMAINS = ("example.com", "example.org", "example.net")
_DOMAIN_WEIGHTS = (55, 30, 15)
_PLANS = ("free", "starter", "pro", "enterprise")
_PLAN_WEIGHTS = (50, 25, 18, 7)
_PLAN_VALUE = {"free": 0.0, "starter": 90.0, "pro": 600.0, "enterprise": 4000.0}
_CONSENTS = (Consent.GRANTED, Consent.UNKNOWN, Consent.WITHDRAWN)
_CONSENT_WEIGHTS = (62, 25, 13)
_CONSENT_SOURCES = ("signup form", "checkout", "import", "event")
# The base of the generated `updated_at`s: one second per contact after it.
GENERATED_AT = datetime(2025, 1, 1)  # naive UTC, as the table keeps it
_SIGNUP_FIRST = date(2016, 1, 1).toordinal()
_SIGNUP_LAST = date(2025, 12, 31).toordinal()
_BIRTH_FIRST = date(1950, 1, 1).toordinal()
_BIRTH_LAST = date(2006, 12, 31).toordinal()
_NOT_LETTERS = re.compile(r"[^a-z]")
_INVALID_KINDS = 7  # the cases of `_invalid_email`


@dataclass(frozen=True, slots=True)
class GeneratedContact:
    id: int
    email: str
    first_name: str
    last_name: str
    company: str | None
    phone: str | None
    birthday: date | None
    signup_date: date
    plan: str
    lifetime_value: float
    consent: Consent
    consent_source: str | None
    updated_at: datetime
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Pools:
    # Per locale: (name, its letters for an email address).
    first: tuple[tuple[tuple[str, str], ...], ...]
    last: tuple[tuple[tuple[str, str], ...], ...]
    companies: tuple[str, ...]


def generate_contacts(
    *, count: int, seed: int = 7, invalid_share: float = 0.0
) -> Iterator[GeneratedContact]:
    """Contacts 1…count; `invalid_share` of them (rounded) get an invalid or fake email."""
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    if not 0.0 <= invalid_share <= 1.0:
        raise ValueError(f"invalid_share must be between 0 and 1, not {invalid_share}")
    pools = _pools(seed)
    rng = random.Random(seed)
    # `random()` and plain arithmetic only: `choices`/`randint` cost several times more.
    draw = rng.random
    # A separate stream, so the share of invalid emails changes nothing else.
    spoiler = random.Random(f"{seed}/invalid")
    invalid = {
        number: spoiler.randrange(_INVALID_KINDS)
        for number in spoiler.sample(range(1, count + 1), round(count * invalid_share))
    }
    locales = _Weighted(range(len(_LOCALES)), _LOCALE_WEIGHTS)
    plans = _Weighted(_PLANS, _PLAN_WEIGHTS)
    consents = _Weighted(_CONSENTS, _CONSENT_WEIGHTS)
    domains = _Weighted(_DOMAINS, _DOMAIN_WEIGHTS)
    companies = pools.companies
    signup_days = _SIGNUP_LAST - _SIGNUP_FIRST + 1
    birth_days = _BIRTH_LAST - _BIRTH_FIRST + 1
    for number in range(1, count + 1):
        locale = locales.pick(draw())
        first_names, last_names = pools.first[locale], pools.last[locale]
        first, first_ascii = first_names[int(draw() * len(first_names))]
        last, last_ascii = last_names[int(draw() * len(last_names))]
        plan = plans.pick(draw())
        consent = consents.pick(draw())
        newsletter = 0.45 if consent is Consent.GRANTED else 0.1
        chosen = tuple(
            label
            for label, share in zip(LABELS, (0.04, newsletter, 0.07), strict=True)
            if draw() < share
        )
        email = f"{_local(draw(), first_ascii, last_ascii, number)}@{domains.pick(draw())}"
        if number in invalid:
            email = _invalid_email(invalid[number], first_ascii, last_ascii, number)
        if plan == "free":
            value = round(5 + draw() * 55, 2) if draw() < 0.3 else 0.0
        else:
            value = round(rng.lognormvariate(0, 0.8) * _PLAN_VALUE[plan], 2)
        yield GeneratedContact(
            id=number,
            email=email,
            first_name=first,
            last_name=last,
            company=companies[int(draw() * len(companies))] if draw() < 0.6 else None,
            phone=(
                f"+1 {201 + int(draw() * 789)} 555 {100 + int(draw() * 100):04d}"
                if draw() < 0.65
                else None
            ),
            birthday=(
                date.fromordinal(_BIRTH_FIRST + int(draw() * birth_days)) if draw() < 0.7 else None
            ),
            signup_date=date.fromordinal(_SIGNUP_FIRST + int(draw() * signup_days)),
            plan=plan,
            lifetime_value=value,
            consent=consent,
            consent_source=(
                _CONSENT_SOURCES[int(draw() * len(_CONSENT_SOURCES))]
                if consent is not Consent.UNKNOWN
                else None
            ),
            updated_at=GENERATED_AT + timedelta(seconds=number),
            labels=chosen,
        )


class _Weighted(Generic[T]):
    """Weighted choice from one uniform draw."""

    def __init__(self, values: Iterable[T], weights: Iterable[float]) -> None:
        self.values = tuple(values)
        self.bounds = tuple(accumulate(weights))
        self.total = self.bounds[-1]

    def pick(self, uniform: float) -> T:
        return self.values[bisect_right(self.bounds, uniform * self.total)]


def _pools(seed: int) -> _Pools:
    first, last = [], []
    for index, locale in enumerate(_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + index)
        first.append(tuple((name, _ascii(name)) for name in _distinct(fake.first_name, _POOL)))
        last.append(tuple((name, _ascii(name)) for name in _distinct(fake.last_name, _POOL)))
    fake = Faker("en_US")
    fake.seed_instance(seed * 100 + 99)
    return _Pools(tuple(first), tuple(last), _distinct(fake.company, _COMPANIES))


def _distinct(make: Callable[[], str], size: int) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for _ in range(size * 3):
        value = str(make())
        if _ascii(value):  # a name must give letters for an email address
            found.setdefault(value, None)
        if len(found) == size:
            break
    return tuple(found)


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_LETTERS.sub("", folded.lower())


def _local(uniform: float, first: str, last: str, number: int) -> str:
    if uniform < 0.5:
        return f"{first}.{last}{number}"
    if uniform < 0.7:
        return f"{first[0]}{last}{number}"
    if uniform < 0.8:
        return f"{first}_{last}{number}"
    if uniform < 0.9:
        return f"{last}.{first}{number}"
    return f"{first}{last}{number}"


def _invalid_email(kind: int, first: str, last: str, number: int) -> str:
    match kind:
        case 0:
            return f"test{number}@example.com"  # placeholder at a reserved domain
        case 1:
            return f"asdf{number}@example.org"
        case 2:
            return f"fake.{number}@example.net"
        case 3:
            return f"{first}.{last}{number}@example"  # no top-level domain
        case 4:
            return f"{first}.{last}{number}.example.com"  # no @
        case 5:
            return f"{first}..{last}{number}@example.com"  # doubled dot
        case _:
            return f"{first}.{last}{number}@mailinator.com"  # disposable
