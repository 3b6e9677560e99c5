"""The API-call log: active users over a window, templates only, last-used times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chimplink.store.api_calls import (
    ApiCallRecord,
    active_users,
    delete_api_calls_before,
    record_api_calls,
)
from chimplink.store.crypto import TokenCipher
from chimplink.store.installations import find_installation
from tests.store.helpers import T0, Db, connect

OPERATION = "PUT /lists/{list_id}/members/{subscriber_hash}"


def _call(
    installation_id: str | None, at_days_ago: float, *, status: int | None = 200
) -> ApiCallRecord:
    return ApiCallRecord(
        installation_id=installation_id,
        operation=OPERATION,
        status=status,
        duration_ms=120,
        at=T0 - timedelta(days=at_days_ago),
    )


async def test_active_users_counts_distinct_installations_in_the_window(
    db: Db, cipher: TokenCipher
) -> None:
    a = (await connect(db, cipher, account_id="a")).installation.id
    b = (await connect(db, cipher, account_id="b")).installation.id
    c = (await connect(db, cipher, account_id="c")).installation.id
    calls = [
        _call(a, 1),
        _call(a, 2),
        _call(a, 3, status=None),  # a transport failure still shows the user is active
        _call(b, 89.9),
        _call(c, 90.1),  # just outside
        _call(None, 1),  # token exchange before an installation existed
    ]
    async with db.sessions.begin() as session:
        assert await record_api_calls(session=session, calls=calls) == 6
    async with db.sessions() as session:
        assert await active_users(session=session, now=T0) == 2
        assert await active_users(session=session, now=T0, since=timedelta(days=91)) == 3
        assert await active_users(session=session, now=T0, since=timedelta(days=1, hours=1)) == 1
        assert await active_users(session=session, now=T0 - timedelta(days=200)) == 0
        found = await find_installation(session=session, installation_id=a)
    assert found is not None and found.last_used_at == T0 - timedelta(days=1)


async def test_calls_of_vanished_installations_are_dropped(db: Db, cipher: TokenCipher) -> None:
    a = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        written = await record_api_calls(
            session=session, calls=[_call(a, 1), _call("gone-installation", 1)]
        )
    assert written == 1


@pytest.mark.parametrize(
    "operation",
    [
        "PUT /lists/abc/members/0cc175b9c0f1b6a831c399e269772661",
        "GET /search-members?query=someone@example.com",
        "GET /search-members?query=someone%40example.com",
    ],
)
async def test_concrete_paths_are_refused(db: Db, operation: str) -> None:
    async with db.sessions.begin() as session:
        with pytest.raises(ValueError, match="template"):
            await record_api_calls(
                session=session,
                calls=[ApiCallRecord(None, operation, 200, 5, T0)],
            )


async def test_retention(db: Db, cipher: TokenCipher) -> None:
    a = (await connect(db, cipher)).installation.id
    async with db.sessions.begin() as session:
        await record_api_calls(session=session, calls=[_call(a, 400), _call(a, 10)])
    async with db.sessions.begin() as session:
        assert await delete_api_calls_before(session=session, before=T0 - timedelta(days=365)) == 1
    async with db.sessions() as session:
        assert await active_users(session=session, now=T0) == 1
