"""Segments and tags: state and Mailchimp's rules.

Mailchimp's tags ARE static segments (`type: "static"`): a tag applied to a
contact is that contact's membership of the static segment of the same name,
and `GET /lists/{id}/segments?type=static` lists the audience's tags
(REFERENCE.md §8.4; the spec's `Conditions2`: "Static segments (tags)").

So that the member view (`Member.tags`, [{id, name}]) and the segment view can
never disagree, static membership is stored in one place only: the members'
`tags`. This store keeps each segment's metadata (id, name, dates, and the
conditions of saved segments). A tag that a member carries but that this store
has not seen yet (added through the members' tag endpoint) is adopted as a
static segment the next time segments are read (`sync_tags`).

Tag names are matched without regard to case, as Mailchimp's tag names are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from chimplink.emulator import problems
from chimplink.emulator.backend import Account, now_iso, register_store
from chimplink.emulator.members.models import Member, find_member, members_of
from chimplink.emulator.segments.conditions import Options, matches
from chimplink.emulator.segments.interests import interests_store

# Without include_* flags a segment holds its "active subscribers" (the
# spec's description of member_count).
BASE_STATUSES = frozenset({"subscribed"})

MAX_BATCH = 500


class Segment(BaseModel):
    id: int
    list_id: str
    name: str
    type: str  # "saved" | "static"
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    match: str | None = None  # saved segments only
    conditions: list[dict[str, object]] = Field(default_factory=list)

    @property
    def options(self) -> Options | None:
        if self.type != "saved" or self.match is None:
            return None
        return Options(match=self.match, conditions=[dict(c) for c in self.conditions])


@register_store("segments")
class SegmentsStore(BaseModel):
    # list_id → str(segment id) → segment, in creation order
    segments: dict[str, dict[str, Segment]] = Field(default_factory=dict)


def segments_store(account: Account) -> SegmentsStore:
    return account.store(SegmentsStore)


def _key(name: str) -> str:
    return name.strip().casefold()


# -- tags as static segments --------------------------------------------------
#
# The members package keeps the audience's tag registry (`MembersStore.tag_ids`:
# casefolded name → list-wide id) and puts `{id, name}` on the members it tags.
# A static segment's id IS its tag id: every static segment is registered there
# under its name, and every registered tag is a static segment here.


def _list_members(account: Account, list_id: str) -> list[Member]:
    return list(members_of(account).members.get(list_id, {}).values())


def _registry(account: Account, list_id: str) -> dict[str, int]:
    return members_of(account).tag_ids.setdefault(list_id, {})


def _static_by_name(account: Account, list_id: str) -> dict[str, Segment]:
    return {
        _key(segment.name): segment
        for segment in segments_store(account).segments.get(list_id, {}).values()
        if segment.type == "static"
    }


def _used_ids(account: Account, list_id: str) -> set[int]:
    used = {int(k) for k in segments_store(account).segments.get(list_id, {})}
    used.update(members_of(account).tag_ids.get(list_id, {}).values())
    return used


def _display_names(members: Iterable[Member]) -> dict[str, str]:
    """Casefolded tag name → the name as first written on a member."""
    names: dict[str, str] = {}
    for member in members:
        for tag in member.tags:
            name = str(tag.get("name", ""))
            if name.strip():
                names.setdefault(_key(name), name.strip())
    return names


def sync_tags(account: Account, list_id: str, *, new_id: Callable[[], int]) -> None:
    """Make the tag registry, the members' tags and the static segments agree.

    Tags registered (or carried by a member) but unknown here become static
    segments; every member's tag then carries its segment's id and name.
    """
    registry = _registry(account, list_id)
    members = _list_members(account, list_id)
    by_name = _static_by_name(account, list_id)
    saved_ids = {
        s.id
        for s in segments_store(account).segments.get(list_id, {}).values()
        if s.type != "static"
    }
    display = _display_names(members)
    for key in [*registry, *(k for k in display if k not in registry)]:
        if key in by_name:
            continue
        tag_id = registry.get(key)
        if tag_id is None or tag_id in saved_ids:
            tag_id = _fresh_id(_used_ids(account, list_id), new_id)
        by_name[key] = _store(
            account,
            Segment(id=tag_id, list_id=list_id, name=display.get(key, key), type="static"),
        )
    for key, segment in by_name.items():
        registry[key] = segment.id
    for member in members:
        for tag in member.tags:
            found = by_name.get(_key(str(tag.get("name", ""))))
            if found is not None:
                tag["id"] = found.id
                tag["name"] = found.name


def _fresh_id(used: Collection[int], new_id: Callable[[], int]) -> int:
    while True:
        candidate = new_id()
        if candidate not in used:
            return candidate


def _store(account: Account, segment: Segment) -> Segment:
    segments_store(account).segments.setdefault(segment.list_id, {})[str(segment.id)] = segment
    return segment


def has_tag(member: Member, segment: Segment) -> bool:
    wanted = _key(segment.name)
    return any(
        tag.get("id") == segment.id or _key(str(tag.get("name", ""))) == wanted
        for tag in member.tags
    )


def _add_tag(member: Member, segment: Segment) -> bool:
    if has_tag(member, segment):
        return False
    member.tags.append({"id": segment.id, "name": segment.name})
    return True


def _remove_tag(member: Member, segment: Segment) -> bool:
    before = len(member.tags)
    wanted = _key(segment.name)
    member.tags[:] = [
        tag
        for tag in member.tags
        if tag.get("id") != segment.id and _key(str(tag.get("name", ""))) != wanted
    ]
    return len(member.tags) != before


# -- reading --------------------------------------------------------------------


def list_segments(account: Account, list_id: str, *, new_id: Callable[[], int]) -> list[Segment]:
    sync_tags(account, list_id, new_id=new_id)
    return list(segments_store(account).segments.get(list_id, {}).values())


def segments_view(account: Account, list_id: str) -> list[Segment]:
    """The audience's segments including tags not adopted yet, without changing state.

    For read-only views (the emulator's HTML UI), which must not mutate the
    stores or consume the seeded id generator.
    """
    stored = list(segments_store(account).segments.get(list_id, {}).values())
    known = {_key(s.name) for s in stored if s.type == "static"}
    display = _display_names(_list_members(account, list_id))
    registry = members_of(account).tag_ids.get(list_id, {})
    for key in [*registry, *display]:
        if key not in known:
            known.add(key)
            name = display.get(key, key)
            stored.append(
                Segment(id=registry.get(key, 0), list_id=list_id, name=name, type="static")
            )
    return stored


def require_segment(
    account: Account, *, list_id: str, segment_id: str, new_id: Callable[[], int]
) -> Segment:
    """The segment, or 404 (a non-numeric id cannot name a segment either)."""
    sync_tags(account, list_id, new_id=new_id)
    found = segments_store(account).segments.get(list_id, {}).get(segment_id.strip())
    if found is None:
        raise problems.not_found()
    return found


def require_static(segment: Segment) -> Segment:
    """Adding or removing members only works on static segments.

    Mailchimp answers a saved segment with 400 and this wording (observed:
    thorning/node-mailchimp#32, brandonseydel/MailChimp.Net#377).
    """
    if segment.type != "static":
        raise problems.bad_request(
            f'A Static Segment with an id of "{segment.id}" does not exist for this list.'
        )
    return segment


def _in_static(account: Account, list_id: str) -> Callable[[Member, int], bool]:
    segments = segments_store(account).segments.get(list_id, {})

    def check(member: Member, segment_id: int) -> bool:
        segment = segments.get(str(segment_id))
        return segment is not None and segment.type == "static" and has_tag(member, segment)

    return check


def includes(account: Account, segment: Segment, member: Member) -> bool:
    """Whether `member` belongs to `segment`, whatever its status."""
    if segment.type == "static":
        return has_tag(member, segment)
    options = segment.options
    return options is not None and matches(
        member, options, in_static=_in_static(account, segment.list_id)
    )


def segment_members(
    account: Account, segment: Segment, *, statuses: Collection[str] = BASE_STATUSES
) -> list[Member]:
    """The segment's members whose status is in `statuses` (archived never are)."""
    return [
        member
        for member in _list_members(account, segment.list_id)
        if member.status in statuses
        and member.status != "archived"
        and includes(account, segment, member)
    ]


# -- changes --------------------------------------------------------------------


def _check_name(account: Account, *, list_id: str, name: str, except_id: int | None) -> str:
    """Tags are unique by name within an audience (one name, one id)."""
    if not name.strip():
        raise problems.field_error("name", "This value should not be blank.")
    taken = members_of(account).tag_ids.get(list_id, {}).get(_key(name))
    if taken is not None and taken != except_id:
        raise problems.invalid_resource(
            f'A tag or static segment named "{name.strip()}" already exists in this audience.'
        )
    return name


def _members_by_email(account: Account, list_id: str, emails: Iterable[str]) -> list[Member]:
    found: list[Member] = []
    seen: set[str] = set()
    for email in emails:
        member = find_member(account, list_id, email) if "@" in email else None
        if member is not None and member.status != "archived" and member.id not in seen:
            seen.add(member.id)
            found.append(member)
    return found


def create_segment(
    account: Account,
    *,
    list_id: str,
    name: str,
    static_emails: list[str] | None,
    options: Options | None,
    new_id: Callable[[], int],
) -> Segment:
    """Create a static segment (emails not on the list are ignored) or a saved one."""
    sync_tags(account, list_id, new_id=new_id)
    used = _used_ids(account, list_id)
    if static_emails is not None:
        _check_name(account, list_id=list_id, name=name, except_id=None)
        segment = _store(
            account,
            Segment(id=_fresh_id(used, new_id), list_id=list_id, name=name, type="static"),
        )
        _registry(account, list_id)[_key(name)] = segment.id
        for member in _members_by_email(account, list_id, static_emails):
            _add_tag(member, segment)
        return segment
    assert options is not None
    if not name.strip():
        raise problems.field_error("name", "This value should not be blank.")
    return _store(
        account,
        Segment(
            id=_fresh_id(used, new_id),
            list_id=list_id,
            name=name,
            type="saved",
            match=options.match,
            conditions=list(options.conditions),
        ),
    )


def update_segment(
    account: Account,
    *,
    segment: Segment,
    name: str,
    static_emails: list[str] | None,
    options: Options | None,
) -> Segment:
    """Rename, reset a static segment's members, or replace a saved segment's conditions.

    `static_emails` replaces the membership: "Passing an empty array for an
    existing static segment will reset that segment and remove all members"
    (the spec's description of `static_segment` on PATCH).
    """
    if static_emails is not None and segment.type != "static":
        raise problems.invalid_resource(
            "static_segment can only be provided for a static segment; this segment is saved."
        )
    if options is not None and segment.type != "saved":
        raise problems.invalid_resource(
            "options can only be provided for a saved segment; static segments have no conditions."
        )
    if segment.type == "static":
        _check_name(account, list_id=segment.list_id, name=name, except_id=segment.id)
    elif not name.strip():
        raise problems.field_error("name", "This value should not be blank.")
    members = _list_members(account, segment.list_id)
    if segment.type == "static" and name != segment.name:
        registry = _registry(account, segment.list_id)
        registry.pop(_key(segment.name), None)
        registry[_key(name)] = segment.id
        for member in members:
            if _remove_tag(member, segment):
                member.tags.append({"id": segment.id, "name": name})
    segment.name = name
    if static_emails is not None:
        keep = {m.id for m in _members_by_email(account, segment.list_id, static_emails)}
        for member in members:
            if member.id in keep:
                _add_tag(member, segment)
            else:
                _remove_tag(member, segment)
    if options is not None:
        segment.match = options.match
        segment.conditions = list(options.conditions)
    segment.updated_at = now_iso()
    return segment


def delete_segment(account: Account, segment: Segment) -> None:
    """Deleting a static segment removes the tag from every contact."""
    if segment.type == "static":
        for member in _list_members(account, segment.list_id):
            _remove_tag(member, segment)
        _registry(account, segment.list_id).pop(_key(segment.name), None)
    segments_store(account).segments.get(segment.list_id, {}).pop(str(segment.id), None)


def add_member(account: Account, *, segment: Segment, member: Member) -> None:
    if _add_tag(member, segment):
        segment.updated_at = now_iso()


def remove_member(account: Account, *, segment: Segment, member: Member) -> bool:
    removed = _remove_tag(member, segment)
    if removed:
        segment.updated_at = now_iso()
    return removed


@dataclass
class BatchResult:
    added: list[Member] = field(default_factory=list)
    removed: list[Member] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)


NOT_ON_LIST = "Email addresses do not belong to this list."


def batch_update(
    account: Account, *, segment: Segment, to_add: list[str], to_remove: list[str]
) -> BatchResult:
    """Add and remove members of a static segment (≤500 each, checked by the caller).

    Addresses not on the list are "ignored" (spec) and reported in `errors`,
    grouped as Mailchimp's `{email_addresses: [...], error}`. Adding a current
    member or removing a non-member changes nothing and is not an error:
    membership is a set.
    """
    result = BatchResult()
    unknown: list[str] = []
    for batch, adding in ((to_add, True), (to_remove, False)):
        found = _members_by_email(account, segment.list_id, batch)
        known = {m.email_address.casefold() for m in found}
        unknown.extend(e for e in batch if e.strip().casefold() not in known and e not in unknown)
        for member in found:
            if adding and _add_tag(member, segment):
                result.added.append(member)
            elif not adding and _remove_tag(member, segment):
                result.removed.append(member)
    if unknown:
        result.errors.append({"email_addresses": unknown, "error": NOT_ON_LIST})
    if result.added or result.removed:
        segment.updated_at = now_iso()
    return result


def parse_time(raw: str, *, param: str) -> datetime:
    """An ISO 8601 query value (since_created_at...), or Mailchimp's Invalid Resource."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise problems.field_error(
            param, f"{raw!r} is not a valid ISO 8601 time (e.g. 2015-10-21T15:41:36+00:00)."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def drop_list(account: Account, list_id: str) -> None:
    """Forget an audience's segments and interest groups (DELETE /lists/{list_id})."""
    segments_store(account).segments.pop(list_id, None)
    store = interests_store(account)
    store.categories.pop(list_id, None)
    store.interests.pop(list_id, None)
