"""The sync settings form: what it shows, and what a submission means.

The form is built from the platform's fields (`Connector.describe_fields`)
and the saved settings; a submission is checked as a whole and, when any
value is wrong, comes back with a message next to each wrong value and
nothing saved. Field names come from the platform, not from the browser:
inputs the platform does not describe are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from chimplink.platforms import FieldSpec
from chimplink.store.sync_config import NoConsentPolicy, SyncConfig
from chimplink.sync.mapping import SyncConfigError, normalize_tag, suggest_mapping

__all__ = ["FieldRow", "SettingsForm"]

_CHECKED = frozenset({"on", "true", "1"})
_ECHO_LIMIT = 40  # characters of a rejected value shown back
PLAN_LIMIT_MAX = 1_000_000_000


@dataclass
class FieldRow:
    """One platform field: synced to `tag`, or not synced."""

    name: str
    label: str
    type: str
    synced: bool
    tag: str
    error: str | None = None


@dataclass
class SettingsForm:
    fields: list[FieldRow]
    sync_labels: bool = True
    no_consent: str = NoConsentPolicy.TRANSACTIONAL.value
    double_optin: bool = False
    erase_permanently: bool = False
    plan_contact_limit: str = ""  # as typed
    errors: dict[str, str] = field(default_factory=dict)  # input name → message

    @property
    def valid(self) -> bool:
        return not self.errors and not any(row.error for row in self.fields)

    def messages(self) -> list[str]:
        """Every problem, in form order (the summary above the form)."""
        found = [f"{row.label}: {row.error}" for row in self.fields if row.error]
        return found + list(self.errors.values())

    @classmethod
    def initial(cls, specs: Sequence[FieldSpec], config: SyncConfig | None) -> SettingsForm:
        """The form as saved, or with suggested tags and every field synced when new."""
        suggested = suggest_mapping(specs)
        if config is None:
            rows = [_row(spec, synced=True, tag=suggested[spec.name]) for spec in specs]
            return cls(fields=rows)
        mapped = config.field_map
        rows = [
            _row(
                spec,
                synced=spec.name in mapped,
                tag=mapped.get(spec.name) or suggested[spec.name],
            )
            for spec in specs
        ]
        return cls(
            fields=rows,
            sync_labels=config.sync_labels,
            no_consent=config.no_consent.value,
            double_optin=config.double_optin,
            erase_permanently=config.erase_permanently,
            plan_contact_limit=(
                str(config.plan_contact_limit) if config.plan_contact_limit is not None else ""
            ),
        )

    @classmethod
    def parse(cls, specs: Sequence[FieldSpec], form: FormData) -> SettingsForm:
        """A submission, checked; see `valid`, `errors` and each row's `error`."""
        errors: dict[str, str] = {}
        rows = [_parsed_row(spec, form, errors) for spec in specs]
        _check_unique(rows)
        parsed = cls(
            fields=rows,
            sync_labels=_checkbox(form, "sync_labels", errors),
            double_optin=_checkbox(form, "double_optin", errors),
            erase_permanently=_checkbox(form, "erase_permanently", errors),
            no_consent=_echo(_text(form, "no_consent")),
            plan_contact_limit=_echo(_text(form, "plan_contact_limit")),
            errors=errors,
        )
        if parsed.no_consent not in {policy.value for policy in NoConsentPolicy}:
            errors["no_consent"] = (
                "Choose what happens to contacts who have not agreed to marketing emails."
            )
        try:
            parsed.plan_limit()
        except ValueError as exc:
            errors["plan_contact_limit"] = str(exc)
        return parsed

    def field_map(self) -> dict[str, str]:
        """Platform field → merge tag, for the synced fields only."""
        return {row.name: row.tag for row in self.fields if row.synced}

    def plan_limit(self) -> int | None:
        text = self.plan_contact_limit.strip().replace(",", "").replace("_", "")
        if not text:
            return None
        if not text.isdigit() or not 0 < int(text) <= PLAN_LIMIT_MAX:
            raise ValueError(
                "Enter the number of contacts your Mailchimp plan allows as a whole number "
                "(for example 500), or leave it empty."
            )
        return int(text)


def _row(spec: FieldSpec, *, synced: bool, tag: str) -> FieldRow:
    return FieldRow(
        name=spec.name, label=spec.label or spec.name, type=spec.type.value, synced=synced, tag=tag
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _echo(value: str) -> str:
    return value[:_ECHO_LIMIT]


def _checkbox(form: FormData, name: str, errors: dict[str, str]) -> bool:
    value = form.get(name)
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in _CHECKED:
        return True
    errors[name] = "A checkbox came back with a value chimplink does not know; reload the page."
    return False


def _parsed_row(spec: FieldSpec, form: FormData, errors: dict[str, str]) -> FieldRow:
    synced = _checkbox(form, f"sync.{spec.name}", errors)
    typed = _text(form, f"tag.{spec.name}")
    row = _row(spec, synced=synced, tag=_echo(typed.strip().upper()))
    if not synced:
        return row
    try:
        row.tag = normalize_tag(typed)
    except SyncConfigError as exc:
        row.error = str(exc)
    return row


def _check_unique(rows: list[FieldRow]) -> None:
    """Two fields cannot fill one merge field: the second one gets the message."""
    owners: dict[str, FieldRow] = {}
    for row in rows:
        if not row.synced or row.error:
            continue
        owner = owners.setdefault(row.tag, row)
        if owner is not row:
            row.error = f"{row.tag} is already used for {owner.label}; choose another merge tag."
