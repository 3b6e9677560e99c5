"""The sql connector reads the demo platform's database as the demo connector does.

A cross-check of both connectors, and the example of a mapping for a real,
normalized schema (labels through a view over a many-to-many table).
"""

from __future__ import annotations

from pathlib import Path

from chimplink.platforms import ConsentWithdrawn, Contact, EmailChanged, ProfileChanged
from chimplink.platforms.demo import DemoPlatform
from chimplink.platforms.sql import SqlConnector
from tests.platforms.helpers import everything, write

DEMO_MAPPING = """\
table = "contacts"
key = "id"
email = "email"
sequence = "seq"

[consent]
column = "marketing_consent"
granted = ["granted"]
withdrawn = ["withdrawn"]

[fields]
first_name = { column = "first_name", label = "First name" }
last_name = { column = "last_name" }
company = { column = "company" }
phone = { column = "phone", type = "phone" }
birthday = { column = "birthday", type = "birthday" }
signup_date = { column = "signup_date", type = "date" }
plan = { column = "plan" }
lifetime_value = { column = "lifetime_value", type = "number" }

[tags]
table = "contact_label_names"
key = "contact_id"
label = "name"

[erasures]
table = "erasures"
key = "contact_id"
email = "email"
sequence = "seq"

[write_back]
consent = "withdrawn"
email = true
fields = ["first_name", "birthday", "lifetime_value"]
"""


def _content(contact: Contact) -> tuple[object, ...]:
    """All but the cursor, which each connector writes its own way."""
    return (contact.key, contact.email, contact.consent, dict(contact.fields), contact.labels)


async def test_sql_connector_sees_what_the_demo_connector_sees(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    async with await DemoPlatform.create(path, contacts=1_000, invalid_share=0.02) as platform:
        async with platform.engine.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE VIEW contact_label_names AS SELECT contact_id, name "
                "FROM contact_labels JOIN labels ON labels.id = contact_labels.label_id"
            )
        gone = await platform.erase("17")
        demo = await everything(platform.connector().contacts(after=None, page_size=128))

        async with await SqlConnector.open(
            f"sqlite:///{path}", mapping=write(tmp_path, DEMO_MAPPING)
        ) as sql:
            read = await everything(sql.contacts(after=None, page_size=128))
            assert [_content(c) for c in read] == [_content(c) for c in demo]
            erased = await everything(sql.erasures(after=None, page_size=10))
            assert [(e.key, e.email) for e in erased] == [(gone.key, gone.email)]

            # Write-back through the sql connector shows up on the demo platform.
            await sql.apply(ConsentWithdrawn(key="5", reason="unsubscribed"))
            await sql.apply(EmailChanged(key="5", new_email="five@example.com"))
            await sql.apply(ProfileChanged(key="5", fields={"birthday": "01/31"}))
            changed = await platform.get("5")
            assert changed is not None
            assert changed.consent.value == "withdrawn"
            assert changed.email == "five@example.com"
            assert changed.fields["birthday"] == "01/31"
