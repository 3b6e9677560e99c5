"""From a platform `Contact` to the member chimplink would send (REFERENCE.md §8).

Consent → status, applied only when Mailchimp *creates* the member
(`status_if_new` semantics; an existing member's status is never sent):

    granted            → "subscribed", or "pending" (double opt-in: Mailchimp
                         sends the confirmation email)
    withdrawn, unknown → "transactional" (non-marketing), or not sent at all,
                         as the operator chose (`NoConsentPolicy`)

Merge fields: each mapped platform field goes to a merge tag, its value
converted to the merge field's type (§8.5). Labels become tags; only tags
chimplink manages are ever removed (runner.py).

`ensure_merge_fields` creates the merge fields a mapping needs, with
Mailchimp's tag rules: at most 10 characters, uppercase letters, digits and
underscores, unique in the audience.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chimplink.mailchimp import MailchimpClient, MailchimpError, MergeField, WritableStatus
from chimplink.platforms import Consent, Contact, FieldSpec, FieldType, FieldValue
from chimplink.store.sync_config import NoConsentPolicy, SyncConfig
from chimplink.sync.classify import Action, classify

__all__ = [
    "MAX_TAG_LENGTH",
    "MERGE_TYPES",
    "MappingError",
    "MemberPayload",
    "MemberPolicy",
    "MergeFieldPlan",
    "ResolvedField",
    "Skip",
    "SyncConfigError",
    "build_member",
    "convert_value",
    "derive_tag",
    "ensure_merge_fields",
    "member_tags",
    "normalize_tag",
    "policy_from_config",
    "suggest_mapping",
]

MAX_TAG_LENGTH = 10  # merge tags (§8.5)
MAX_TAG_NAME_LENGTH = 100  # member tag names
TEXT_MAX_BYTES = 255  # Mailchimp cuts text values at 255 bytes (§8.5)
RESERVED_TAGS = frozenset({"EMAIL"})

MERGE_TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "number",
    FieldType.DATE: "date",
    FieldType.BIRTHDAY: "birthday",
    FieldType.PHONE: "phone",
    FieldType.URL: "url",
    FieldType.ZIP: "zip",
}
# Merge field types a single platform value cannot fill (an address is an object).
_UNMAPPABLE = frozenset({"address"})

_TAG_CHARS = re.compile(r"^[A-Z0-9_]+$")
_NOT_TAG_CHARS = re.compile(r"[^A-Z0-9]")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_BIRTHDAY = re.compile(r"^\d{1,2}/\d{1,2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SPACE = re.compile(r"\s")

MergeValue = str | int | float
CallHook = Callable[[Literal["read", "write"]], None]


class MappingError(ValueError):
    """One record's value cannot be sent as mapped (final for the record until it changes)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SyncConfigError(Exception):
    """The sync settings cannot work (stop the run; the message says what to fix)."""


@dataclass(frozen=True)
class ResolvedField:
    """A platform field and the merge field it fills."""

    field: str
    tag: str
    type: str  # the merge field's Mailchimp type (values are converted to it)


@dataclass(frozen=True)
class MergeFieldPlan:
    fields: tuple[ResolvedField, ...]
    created: tuple[str, ...] = ()  # merge tags created (a dry run: that would be created)

    @property
    def field_map(self) -> dict[str, str]:
        return {f.field: f.tag for f in self.fields}


@dataclass(frozen=True)
class MemberPolicy:
    """Everything `build_member` needs besides the contact."""

    list_id: str
    fields: tuple[ResolvedField, ...] = ()
    sync_labels: bool = True
    label_tags: Mapping[str, str] | None = None
    no_consent: NoConsentPolicy = NoConsentPolicy.TRANSACTIONAL
    double_optin: bool = False


def policy_from_config(config: SyncConfig) -> MemberPolicy:
    """The policy of the installation's last (non-dry) run, without calling Mailchimp.

    For code outside a run that must predict what a run would send, e.g. the
    inbound processor storing the hash of a contact it just updated from
    Mailchimp, so that the change does not echo back as a write.
    """
    return MemberPolicy(
        list_id=config.list_id,
        fields=tuple(
            ResolvedField(field=name, tag=tag, type=config.field_types.get(tag, "text"))
            for name, tag in sorted(config.field_map.items())
            if tag
        ),
        sync_labels=config.sync_labels,
        label_tags=config.label_tags,
        no_consent=config.no_consent,
        double_optin=config.double_optin or config.audience_double_optin,
    )


@dataclass(frozen=True)
class MemberPayload:
    """Exactly what is sent for one contact (and hashed, see planner.content_hash)."""

    email_address: str
    status_if_new: WritableStatus
    merge_fields: Mapping[str, MergeValue] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # sorted

    def for_create(self) -> dict[str, Any]:
        """A batch-subscribe entry for an address not yet on the audience.

        Batch subscribe has no `status_if_new` (its schema only knows
        `status`, which overwrites, §8.3), so `status` is sent only when the
        runner asks Mailchimp to *create* (`update_existing: false`, where an
        existing member comes back as ERROR_CONTACT_EXISTS untouched).
        """
        body = self.for_update()
        body["status"] = self.status_if_new
        return body

    def for_update(self) -> dict[str, Any]:
        """A batch-subscribe entry for an existing member: never a status (compliance)."""
        body: dict[str, Any] = {"email_address": self.email_address}
        if self.merge_fields:
            body["merge_fields"] = dict(self.merge_fields)
        if self.tags:
            body["tags"] = list(self.tags)
        return body

    def hash_input(self, list_id: str) -> dict[str, Any]:
        return {
            "list_id": list_id,
            "email_address": self.email_address,
            "status_if_new": self.status_if_new,
            "merge_fields": dict(self.merge_fields),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Skip:
    """A contact not sent on purpose (no consent under policy "skip")."""

    reason: str


def _text(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _cut_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def convert_value(value: FieldValue, merge_type: str, *, field: str = "value") -> MergeValue:
    """A platform value in the form Mailchimp takes for `merge_type` (§8.5).

    None becomes "" (an empty string clears the merge field: the platform is
    the source of truth for mapped fields). Raises MappingError when the value
    cannot be one of that type.
    """
    if value is None:
        return ""
    if merge_type == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise MappingError(field, f"{value} is not a number Mailchimp can store")
        if isinstance(value, int | float):
            return value
        text = value.strip()
        if not text:
            return ""
        if not _NUMBER.match(text):
            raise MappingError(field, f"{text!r} is not a number")
        number = float(text)
        return int(number) if number.is_integer() and "e" not in text.lower() else number
    text = _text(value)
    if merge_type == "date":
        found = _ISO_DATE.match(text)
        return found.group(0) if found else text
    if merge_type == "birthday":
        found = _ISO_DATE.match(text)
        if found:
            return f"{found.group(2)}/{found.group(3)}"
        if text and not _BIRTHDAY.match(text):
            raise MappingError(field, f"{text!r} is not a birthday (MM/DD)")
        return text
    if merge_type == "zip" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:05d}"
    if merge_type == "text":
        return _cut_bytes(text, TEXT_MAX_BYTES)
    return text


def member_tags(labels: frozenset[str], policy: MemberPolicy) -> tuple[str, ...]:
    """The Mailchimp tags for a contact's labels, sorted."""
    if not policy.sync_labels:
        return ()
    tags: set[str] = set()
    for label in labels:
        name = policy.label_tags.get(label) if policy.label_tags is not None else label
        if name is None:
            continue
        name = name.strip()[:MAX_TAG_NAME_LENGTH].strip()
        if name:
            tags.add(name)
    return tuple(sorted(tags))


def _check_email(email: str) -> str:
    address = email.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or _SPACE.search(address):
        raise MappingError("email", "not an email address")
    return address


def _status_if_new(consent: Consent, policy: MemberPolicy) -> WritableStatus | None:
    if consent is Consent.GRANTED:
        return "pending" if policy.double_optin else "subscribed"
    if policy.no_consent is NoConsentPolicy.SKIP:
        return None
    return "transactional"


def build_member(contact: Contact, policy: MemberPolicy) -> MemberPayload | Skip:
    """The member for `contact`, or Skip. Raises MappingError for an unsendable record."""
    status = _status_if_new(contact.consent, policy)
    if status is None:
        return Skip(f"no marketing consent ({contact.consent.value}); policy: skip")
    email = _check_email(contact.email)
    merge_fields: dict[str, MergeValue] = {}
    for resolved in policy.fields:
        if resolved.field not in contact.fields:
            continue
        merge_fields[resolved.tag] = convert_value(
            contact.fields[resolved.field], resolved.type, field=resolved.field
        )
    return MemberPayload(
        email_address=email,
        status_if_new=status,
        merge_fields=merge_fields,
        tags=member_tags(contact.labels, policy),
    )


# -- merge fields ---------------------------------------------------------------------


def derive_tag(name: str, taken: set[str] | frozenset[str]) -> str:
    """A valid, unused merge tag from a field name: `Favorite Color` → `FAVORITECO`.

    Uppercase letters and digits only, at most 10 characters, never a taken
    tag (nor EMAIL); a number suffix resolves collisions (`FAVORITEC2`).
    """
    used = {t.upper() for t in taken} | RESERVED_TAGS
    base = _NOT_TAG_CHARS.sub("", name.upper()) or "FIELD"
    if base[0].isdigit():
        base = "F" + base
    candidate = base[:MAX_TAG_LENGTH]
    number = 2
    while candidate in used:
        suffix = str(number)
        candidate = base[: MAX_TAG_LENGTH - len(suffix)] + suffix
        number += 1
    return candidate


def _valid_tag(tag: str) -> str:
    normalized = tag.strip().upper()
    if not normalized or len(normalized) > MAX_TAG_LENGTH or not _TAG_CHARS.match(normalized):
        raise SyncConfigError(
            f"The merge tag {tag!r} is not valid: use 1 to {MAX_TAG_LENGTH} letters, "
            "digits or underscores."
        )
    if normalized in RESERVED_TAGS:
        raise SyncConfigError(f"The merge tag {normalized} is reserved by Mailchimp.")
    return normalized


async def _existing(
    client: MailchimpClient, list_id: str, on_call: CallHook | None
) -> list[MergeField]:
    if on_call is not None:
        on_call("read")
    return [mf async for mf in client.lists.merge_fields.iterate(list_id, page_size=1000)]


async def _create(
    client: MailchimpClient,
    list_id: str,
    *,
    name: str,
    merge_type: str,
    tag: str,
    on_call: CallHook | None,
    attempts: int = 3,
) -> None:
    """Create one merge field. `POST` is not blindly retried by the client (it could
    create two), so after an unknown outcome the fields are read back first."""
    for attempt in range(attempts):
        if attempt and any(mf.tag == tag for mf in await _existing(client, list_id, on_call)):
            return
        try:
            if on_call is not None:
                on_call("write")
            await client.lists.merge_fields.create(list_id, name=name, type=merge_type, tag=tag)
            return
        except MailchimpError as exc:
            decision = classify(exc)
            if decision.action is not Action.RETRY_LATER or attempt == attempts - 1:
                raise


async def ensure_merge_fields(
    client: MailchimpClient,
    list_id: str,
    mapping: Mapping[str, str],
    fields: Sequence[FieldSpec],
    *,
    create: bool = True,
    on_call: CallHook | None = None,
) -> MergeFieldPlan:
    """Resolve `mapping` (platform field → merge tag, "" = derive) against the audience,
    creating missing merge fields with the platform field's type.

    An existing merge field with the wanted tag (or, without a tag, with the
    field's name) is reused and its type decides how values are converted.
    With `create=False` (a dry run) nothing is written and `created` lists the
    tags that would be created. Raises SyncConfigError for a mapping that
    cannot work, MailchimpError for failures to classify.
    """
    specs = {spec.name: spec for spec in fields}
    existing = await _existing(client, list_id, on_call)
    by_tag = {mf.tag.upper(): mf for mf in existing if mf.tag}
    by_name = {(mf.name or "").casefold(): mf for mf in existing if mf.name}
    taken = set(by_tag)
    resolved: list[ResolvedField] = []
    created: list[str] = []
    claimed: dict[str, str] = {}
    for name in sorted(mapping):
        spec = specs.get(name) or FieldSpec(name=name)
        wanted = mapping[name]
        label = spec.label or spec.name
        found: MergeField | None
        if wanted:
            tag = _valid_tag(wanted)
            found = by_tag.get(tag)
        else:
            found = by_name.get(label.casefold())
            tag = found.tag.upper() if found is not None and found.tag else derive_tag(label, taken)
        if tag in claimed:
            raise SyncConfigError(
                f"The fields {claimed[tag]!r} and {name!r} are both mapped to the merge tag {tag}."
            )
        claimed[tag] = name
        if found is not None:
            merge_type = found.type or "text"
            if merge_type in _UNMAPPABLE:
                raise SyncConfigError(
                    f"The merge field {tag} is an {merge_type} field; a single platform "
                    f"field ({name!r}) cannot fill it. Map it to another merge field."
                )
        else:
            merge_type = MERGE_TYPES[spec.type]
            if create:
                await _create(
                    client, list_id, name=label, merge_type=merge_type, tag=tag, on_call=on_call
                )
            created.append(tag)
            taken.add(tag)
        resolved.append(ResolvedField(field=name, tag=tag, type=merge_type))
    return MergeFieldPlan(fields=tuple(resolved), created=tuple(created))


# -- the mapping form's defaults and checks ----------------------------------------------

# Every new audience has FNAME, LNAME, ADDRESS and PHONE (REFERENCE.md §8.5):
# suggesting them for the platform's obvious fields fills the audience's
# existing merge fields instead of creating look-alikes.
_DEFAULT_TAGS: dict[str, str] = {
    "firstname": "FNAME",
    "fname": "FNAME",
    "givenname": "FNAME",
    "forename": "FNAME",
    "lastname": "LNAME",
    "lname": "LNAME",
    "surname": "LNAME",
    "familyname": "LNAME",
    "phone": "PHONE",
    "phonenumber": "PHONE",
    "telephone": "PHONE",
    "mobile": "PHONE",
}
# ADDRESS is an address-type merge field (an object): no single platform value fills it.
_NEVER_SUGGESTED = frozenset({"ADDRESS"})
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]")


def suggest_mapping(fields: Sequence[FieldSpec]) -> dict[str, str]:
    """A merge tag for each platform field: the audience's default tag for a first or
    last name or a phone, otherwise one derived from the field's label (unique, valid)."""
    suggested: dict[str, str] = {}
    taken: set[str] = set(_NEVER_SUGGESTED)
    later: list[FieldSpec] = []
    for spec in fields:
        known = _DEFAULT_TAGS.get(_NOT_NAME_CHARS.sub("", spec.name.lower()))
        if known is not None and known not in taken:
            suggested[spec.name] = known
            taken.add(known)
        else:
            later.append(spec)
    for spec in later:
        tag = derive_tag(spec.label or spec.name, taken)
        suggested[spec.name] = tag
        taken.add(tag)
    return {spec.name: suggested[spec.name] for spec in fields}


def normalize_tag(tag: str) -> str:
    """A merge tag as typed in a form, uppercased; SyncConfigError says what is wrong.

    Mailchimp's rule (§8.5): at most 10 characters, letters, digits and
    underscores; EMAIL is the address itself.
    """
    normalized = tag.strip().upper()
    if not normalized:
        raise SyncConfigError("Enter a merge tag, or choose not to sync this field.")
    if len(normalized) > MAX_TAG_LENGTH:
        raise SyncConfigError(
            f"{normalized} has {len(normalized)} characters; Mailchimp allows at most "
            f"{MAX_TAG_LENGTH}."
        )
    if not _TAG_CHARS.match(normalized):
        raise SyncConfigError(
            f"{normalized} has characters Mailchimp does not allow in a merge tag: "
            "use letters A-Z, digits and underscores only."
        )
    if normalized in RESERVED_TAGS:
        raise SyncConfigError(f"{normalized} is the contact's email address in Mailchimp.")
    return normalized
