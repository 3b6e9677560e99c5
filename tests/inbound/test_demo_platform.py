"""The built-in demo platform (a real connector, no `get_contacts`: the stream is scanned):
Mailchimp's changes reach its database, with its own value types, and nothing echoes."""

from __future__ import annotations

from pathlib import Path

from chimplink.platforms import Consent
from chimplink.platforms.demo.platform import DemoPlatform
from chimplink.sync.inbound import ContactLookup
from tests.inbound.conftest import open_scene
from tests.web.harness import World

DEMO_MAP = {
    "first_name": "FNAME",
    "last_name": "LNAME",
    "phone": "PHONE",
    "company": "",
    "birthday": "",
    "signup_date": "",
    "plan": "",
    "lifetime_value": "",
}


async def test_mailchimps_changes_reach_the_demo_platform_without_echo(
    world: World, tmp_path: Path
) -> None:
    platform = await DemoPlatform.create(tmp_path / "demo.db", contacts=30, seed=11)
    try:
        connector = platform.connector()
        assert not isinstance(connector, ContactLookup)
        scene = await open_scene(world, connector, field_map=DEMO_MAP)
        contacts = [c async for page in connector.contacts(after=None, page_size=100) for c in page]
        granted = [c for c in contacts if c.consent is Consent.GRANTED]
        first, second, third = granted[:3]
        before = await scene.writes()

        await scene.action(first.email, action="unsubscribe")
        await scene.action(second.email, action="update_profile", merge_fields={"LNAME": "Okafor"})
        await scene.action(third.email, action="change_email", new_email="renamed@example.org")
        report = await scene.process()
        assert report.processed == 4 and report.retrying == 0

        assert (await platform.get(first.key)).consent is Consent.WITHDRAWN  # type: ignore[union-attr]
        assert (await platform.get(second.key)).fields["last_name"] == "Okafor"  # type: ignore[union-attr]
        assert (await platform.get(third.key)).email == "renamed@example.org"  # type: ignore[union-attr]

        sync = await scene.sync()
        assert sync.write_calls == 0, sync.counts()
        assert await scene.writes() == before
        assert (await scene.reconcile()).complete
        assert (await scene.sync()).write_calls == 0
    finally:
        await platform.aclose()
