"""All emulator state: accounts, credentials, and each account's resource stores.

Built the way moto builds a service backend: state is held per account, each
resource package keeps its own store (a pydantic model registered under a
name with `@register_store`), and the whole backend can be reset, snapshotted
to JSON and loaded again (`--state FILE`).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from chimplink.emulator.config import EmulatorConfig

S = TypeVar("S", bound=BaseModel)

_STORE_TYPES: dict[str, type[BaseModel]] = {}


def register_store(name: str) -> Callable[[type[S]], type[S]]:
    """Register a per-account store class under a stable name (used by snapshots)."""

    def wrap(cls: type[S]) -> type[S]:
        existing = _STORE_TYPES.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"store name {name!r} is taken by {existing.__qualname__}")
        _STORE_TYPES[name] = cls
        cls.__emulator_store_name__ = name  # type: ignore[attr-defined]
        return cls

    return wrap


def now_iso() -> str:
    """Mailchimp's timestamp format: ISO 8601 with a +00:00 offset, no fraction."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class AccountRecord(BaseModel):
    """What Mailchimp knows of the account and its one user (the root endpoint, metadata)."""

    account_id: str
    login_id: str
    dc: str
    account_name: str
    email: str
    first_name: str = "Emulated"
    last_name: str = "User"
    username: str
    role: str = "owner"
    member_since: str = Field(default_factory=now_iso)
    pricing_plan_type: str = "monthly"
    account_timezone: str = "UTC"
    account_industry: str = "Software"
    # Contact limit of the plan; chimplink warns before a first sync exceeds it.
    plan_contact_limit: int = 100_000


class TokenRecord(BaseModel):
    account_id: str
    kind: str  # "oauth" | "api_key"
    client_id: str | None = None
    revoked: bool = False


class OAuthClient(BaseModel):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Emulated integration"
    # What GET /_emulator/oauth-stats reports (e.g. "no token request for a bad state").
    token_requests: int = 0
    codes_issued: int = 0
    tokens_issued: int = 0

    def counters(self) -> dict[str, int]:
        return {
            "token_requests": self.token_requests,
            "codes_issued": self.codes_issued,
            "tokens_issued": self.tokens_issued,
        }


class AuthCode(BaseModel):
    code: str
    client_id: str
    redirect_uri: str
    account_id: str
    expires_at: float
    used: bool = False
    # The token it was exchanged for: revoked if the code is replayed (RFC 6749 §4.1.2).
    access_token: str | None = None


@dataclass
class Account:
    """One Mailchimp account and its resource stores."""

    record: AccountRecord
    stores: dict[str, BaseModel] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.record.account_id

    @property
    def dc(self) -> str:
        return self.record.dc

    def store(self, cls: type[S]) -> S:
        name: str = cls.__emulator_store_name__  # type: ignore[attr-defined]
        found = self.stores.get(name)
        if found is None:
            found = cls()
            self.stores[name] = found
        assert isinstance(found, cls)
        return found


@dataclass(frozen=True, slots=True)
class ListEvent:
    """Something happened to an audience that Mailchimp reports through webhooks.

    `data` is the flat form-field mapping without the `data[...]` wrapping,
    e.g. {"email": "a@b.c", "merges][FNAME": "Ann"} is rendered as
    `data[email]=a@b.c&data[merges][FNAME]=Ann` by the deliverer.
    """

    account_id: str
    list_id: str
    type: str  # subscribe | unsubscribe | profile | upemail | cleaned | campaign
    source: str  # user | admin | api
    data: dict[str, str]
    fired_at: str


ListEventSink = Callable[[ListEvent], None]


class Backend:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock: Callable[[], float] = time.monotonic
        self.list_event_sinks: list[ListEventSink] = []
        self._init_state()

    def _init_state(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self._dc_counter = 0

    # -- lifecycle -----------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (POST /_emulator/reset). Sinks stay connected."""
        self._init_state()

    def snapshot(self) -> dict[str, Any]:
        return {
            "accounts": {
                account_id: {
                    "record": account.record.model_dump(mode="json"),
                    "stores": {
                        name: store.model_dump(mode="json")
                        for name, store in account.stores.items()
                    },
                }
                for account_id, account in self.accounts.items()
            },
            "tokens": {t: r.model_dump(mode="json") for t, r in self.tokens.items()},
            "oauth_clients": {c: r.model_dump(mode="json") for c, r in self.oauth_clients.items()},
            "dc_counter": self._dc_counter,
        }

    def load(self, data: dict[str, Any]) -> None:
        self._init_state()
        for account_id, raw in data.get("accounts", {}).items():
            account = Account(AccountRecord.model_validate(raw["record"]))
            for name, store in raw.get("stores", {}).items():
                cls = _STORE_TYPES.get(name)
                if cls is None:
                    raise ValueError(f"state file has an unknown store {name!r}")
                account.stores[name] = cls.model_validate(store)
            self.accounts[account_id] = account
        self.tokens = {t: TokenRecord.model_validate(r) for t, r in data.get("tokens", {}).items()}
        self.oauth_clients = {
            c: OAuthClient.model_validate(r) for c, r in data.get("oauth_clients", {}).items()
        }
        self._dc_counter = int(data.get("dc_counter", 0))

    # -- identifiers -----------------------------------------------------------

    def new_id(self, length: int = 10) -> str:
        """A Mailchimp-style hex id (lists, webhooks, batches...), reproducible with --seed."""
        return f"{self.rng.getrandbits(4 * length):0{length}x}"

    def new_int_id(self) -> int:
        return self.rng.randrange(10_000, 2_000_000_000)

    # -- accounts and credentials ----------------------------------------------

    def create_account(
        self, *, account_name: str, dc: str | None = None, email: str | None = None
    ) -> tuple[Account, str, str]:
        """Create an account with one OAuth token and one API key; return both secrets."""
        if dc is None:
            self._dc_counter += 1
            dc = f"us{(self._dc_counter - 1) % 21 + 1}"
        account_id = self.new_id(25)
        login_id = str(self.new_int_id())
        address = email or f"owner-{login_id}@example.org"
        record = AccountRecord(
            account_id=account_id,
            login_id=login_id,
            dc=dc,
            account_name=account_name,
            email=address,
            username=address,
        )
        account = Account(record)
        self.accounts[account_id] = account
        access_token = self.issue_token(account_id=account_id, kind="oauth")
        api_key = f"{secrets.token_hex(16)}-{dc}"
        self.tokens[api_key] = TokenRecord(account_id=account_id, kind="api_key")
        return account, access_token, api_key

    def issue_token(self, *, account_id: str, kind: str, client_id: str | None = None) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = TokenRecord(account_id=account_id, kind=kind, client_id=client_id)
        return token

    def account_for_token(self, token: str) -> Account | None:
        record = self.tokens.get(token)
        if record is None or record.revoked:
            return None
        return self.accounts.get(record.account_id)

    def revoke(self, token: str) -> bool:
        record = self.tokens.get(token)
        if record is None:
            return False
        record.revoked = True
        return True

    def iter_accounts(self) -> Iterator[Account]:
        return iter(list(self.accounts.values()))

    # -- events ------------------------------------------------------------------

    def emit(self, event: ListEvent) -> None:
        for sink in self.list_event_sinks:
            sink(event)
