"""Which email addresses Mailchimp refuses as "fake or invalid" (REFERENCE.md §5).

Mailchimp answers 400 Invalid Resource, "<email> looks fake or invalid, please
enter a real email address." for malformed addresses, for disposable domains
(yopmail was observed) and for obviously made-up ones (`fooboo@example.com`
was observed). Its real classifier is not public, so the emulator applies a
fixed, documented rule:

1. Syntax. One `@`; a local part of 1–64 characters from RFC 5322's atom set,
   no leading, trailing or doubled dot; a domain of at least two dot-separated
   labels (letters, digits, inner hyphens; ≤63 characters each) ending in an
   alphabetic TLD of 2+ letters; ≤254 characters in all. So `a,b@x.com`,
   `a@x.com.` and `a@localhost` are invalid (the first two made Mailchimp fail,
   REFERENCE.md's APIv3-examples#28).
2. Disposable domains: any address at one of `DISPOSABLE_DOMAINS` (or a
   subdomain of one) is fake.
3. Placeholder addresses at reserved domains: at `example.com`, `example.org`,
   `example.net`, or under the reserved TLDs `.test`, `.invalid`, `.localhost`,
   `.example`, the address is fake when its local part, lowercased and with
   trailing digits and separators (`.`, `-`, `_`, `+`) removed, is one of
   `PLACEHOLDER_LOCAL_PARTS` (`test`, `test123`, `fake`, `asdf`, `noreply`, ...).

Realistic addresses at the reserved domains (`jane.doe42@example.com`) are
accepted: the demo and the tests generate contacts like that, and Mailchimp
accepts most `example.com` addresses that look like a person's.
"""

from __future__ import annotations

import re

DISPOSABLE_DOMAINS = frozenset(
    {
        "yopmail.com",
        "yopmail.fr",
        "yopmail.net",
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "trashmail.com",
        "sharklasers.com",
    }
)
RESERVED_DOMAINS = frozenset({"example.com", "example.org", "example.net"})
RESERVED_TLDS = frozenset({"test", "invalid", "localhost", "example"})
PLACEHOLDER_LOCAL_PARTS = frozenset(
    {
        "test",
        "tester",
        "testing",
        "testuser",
        "fake",
        "fakeemail",
        "example",
        "sample",
        "asdf",
        "asdfgh",
        "asdfasdf",
        "qwerty",
        "foo",
        "bar",
        "foobar",
        "fooboo",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "nobody",
        "none",
        "null",
        "abc",
        "xyz",
        "aaa",
        "xxx",
        "email",
        "user",
        "someone",
        "anonymous",
    }
)

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^[A-Za-z]{2,63}$")
_TRAILING = re.compile(r"[0-9._+-]+$")


def is_valid_syntax(email: str) -> bool:
    if len(email) > 254 or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    if not 1 <= len(local) <= 64 or not _LOCAL.match(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return False
    return bool(_TLD.match(labels[-1]))


def looks_fake(email: str) -> bool:
    """True when the address breaks the syntax rule or is disposable or a placeholder."""
    if not is_valid_syntax(email):
        return True
    local, domain = email.lower().split("@")
    if any(domain == d or domain.endswith(f".{d}") for d in DISPOSABLE_DOMAINS):
        return True
    reserved = domain in RESERVED_DOMAINS or domain.rsplit(".", 1)[-1] in RESERVED_TLDS
    if not reserved:
        return False
    stem = _TRAILING.sub("", local) or local
    return local in PLACEHOLDER_LOCAL_PARTS or stem in PLACEHOLDER_LOCAL_PARTS
