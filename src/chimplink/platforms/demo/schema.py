"""The demo platform's tables: a small shop's customer list, as such platforms keep one.

`seq` is the change cursor: every change to a contact (fields, consent,
email, labels) takes the next value of the `change` counter, so a reader
that remembers the last `seq` it saw finds every later change. SQLite
serializes writers, so sequence values also commit in order.

`photos` is the photo editor's library (photos.py): the bytes with their
SHA-256 and dimensions, in albums, with a `seq` of its own counter
(`photo_change`), so photo edits never move contacts past a cursor.
"""

from __future__ import annotations

import sqlalchemy as sa

from chimplink.platforms.base import FieldSpec, FieldType

__all__ = [
    "CHANGE_COUNTER",
    "DEMO_FIELDS",
    "PHOTO_COUNTER",
    "contact_labels",
    "contacts",
    "counters",
    "erasures",
    "labels",
    "metadata",
    "photos",
]

CHANGE_COUNTER = "change"
PHOTO_COUNTER = "photo_change"

# The fields a demo contact carries, for the mapping form (and `edit`'s keywords).
DEMO_FIELDS = (
    FieldSpec("first_name", FieldType.TEXT, "First name"),
    FieldSpec("last_name", FieldType.TEXT, "Last name"),
    FieldSpec("company", FieldType.TEXT, "Company"),
    FieldSpec("phone", FieldType.PHONE, "Phone"),
    FieldSpec("birthday", FieldType.BIRTHDAY, "Birthday"),
    FieldSpec("signup_date", FieldType.DATE, "Signed up"),
    FieldSpec("plan", FieldType.TEXT, "Plan"),
    FieldSpec("lifetime_value", FieldType.NUMBER, "Lifetime value"),
)

metadata = sa.MetaData()

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("company", sa.String(200)),
    sa.Column("phone", sa.String(40)),
    sa.Column("birthday", sa.Date),
    sa.Column("signup_date", sa.Date, nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("lifetime_value", sa.Float, nullable=False),
    # granted | withdrawn | unknown, and where that came from ("signup form", "mailchimp:cleaned")
    sa.Column("marketing_consent", sa.String(10), nullable=False),
    sa.Column("consent_source", sa.String(40)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
)

contact_labels = sa.Table(
    "contact_labels",
    metadata,
    sa.Column(
        "contact_id",
        sa.Integer,
        sa.ForeignKey("contacts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "label_id", sa.Integer, sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
    ),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.Integer, nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("erased_at", sa.DateTime, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)

photos = sa.Table(
    "photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("album", sa.String(100)),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
)
