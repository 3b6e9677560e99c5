"""Tenant isolation: every route that takes an installation id answers another tenant's id
exactly as an unknown id — the same 404 — with no side effect (no write, no Mailchimp call)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.routing import APIRoute

from tests.store.helpers import dump_tables
from tests.web.harness import World, csrf_in, installations_of

VICTIM_EMAIL = "victim@bakery.example"


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (no prefixes are used)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def installation_routes(world: World) -> list[tuple[str, str]]:
    found = []
    for route in _api_routes(world.app.routes):
        if "{installation_id}" in route.path and not route.path.startswith("/webhooks/"):
            for method in sorted(route.methods):
                found.append((method, route.path))
    return found


async def test_every_installation_route_hides_other_tenants_installations(world: World) -> None:
    account = await world.mailchimp.account("Bakery", VICTIM_EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    victim = world.browser()
    await victim.enter("victim")
    assert (await victim.connect(VICTIM_EMAIL)).status_code == 303
    [installation] = await installations_of(world, "victim")
    page = await victim.get(f"/installations/{installation.id}/audiences")
    chosen = await victim.post(
        f"/installations/{installation.id}/audiences",
        data={"csrf_token": csrf_in(page), "list_id": list_id},
    )
    assert chosen.status_code == 303

    # The attacker is a real tenant with an account of their own, so with a valid CSRF token.
    await world.mailchimp.account("Attacker Co", "attacker@attacker.example")
    attacker = world.browser()
    await attacker.enter("attacker")
    assert (await attacker.connect("attacker@attacker.example")).status_code == 303
    [own] = await installations_of(world, "attacker")
    attacker_csrf = csrf_in(await attacker.get(f"/installations/{own.id}/uninstall"))
    unknown_page = await attacker.get("/no/such/page")
    assert unknown_page.status_code == 404

    routes = installation_routes(world)
    assert {path for _, path in routes} >= {
        "/installations/{installation_id}/audiences",
        "/installations/{installation_id}/uninstall",
    }
    assert len(routes) >= 4
    [installation] = await installations_of(world, "victim")  # as it is now
    before_tables = await dump_tables(world.services.engine)
    before_hooks = await world.mailchimp.webhooks(account["access_token"], list_id)
    mark = world.transport.mark()

    for method, path in routes:
        responses = []
        for target in (installation.id, str(uuid.uuid4())):
            url = path.replace("{installation_id}", target)
            if method == "POST":
                form = {"csrf_token": attacker_csrf, "list_id": list_id}
                response = await attacker.post(url, data=form)
            else:
                response = await attacker.get(url)
            responses.append(response)
        foreign, unknown = responses
        assert foreign.status_code == 404, (method, path, foreign.text[:200])
        assert foreign.content == unknown.content == unknown_page.content, (method, path)

    assert world.transport.since(mark) == []  # not one request to Mailchimp
    assert await dump_tables(world.services.engine) == before_tables
    assert await world.mailchimp.webhooks(account["access_token"], list_id) == before_hooks
    # The victim's installation is untouched and still works.
    [still] = await installations_of(world, "victim")
    assert still == installation
    assert (await victim.get(f"/installations/{installation.id}/audiences")).status_code == 200


async def test_the_home_page_lists_only_the_tenants_own_accounts(world: World) -> None:
    await world.mailchimp.account("Bakery", VICTIM_EMAIL)
    await world.mailchimp.account("Attacker Co", "attacker@attacker.example")
    victim = world.browser()
    await victim.enter("victim")
    assert (await victim.connect(VICTIM_EMAIL)).status_code == 303
    attacker = world.browser()
    await attacker.enter("attacker")
    assert (await attacker.connect("attacker@attacker.example")).status_code == 303
    [victims] = await installations_of(world, "victim")
    home = await attacker.get("/")
    assert "Attacker Co" in home.text
    assert victims.id not in home.text
    assert VICTIM_EMAIL not in home.text


async def test_installation_routes_need_a_platform_session(world: World) -> None:
    await world.mailchimp.account("Bakery", VICTIM_EMAIL)
    victim = world.browser()
    await victim.enter("victim")
    assert (await victim.connect(VICTIM_EMAIL)).status_code == 303
    [installation] = await installations_of(world, "victim")
    stranger = world.browser()
    for method, path in installation_routes(world):
        url = path.replace("{installation_id}", installation.id)
        response = await (stranger.post(url, data={}) if method == "POST" else stranger.get(url))
        assert response.status_code == 401, (method, path)
        assert "Open chimplink from your platform" in response.text
    assert (await stranger.get("/")).status_code == 401
    assert (await stranger.get("/connect")).status_code == 401
