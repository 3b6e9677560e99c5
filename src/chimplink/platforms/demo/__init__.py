"""The `demo` platform: a sample shop's customers on SQLite, for `make demo` and the tests.

platform = await DemoPlatform.create("demo.db", contacts=10_000)
connector = platform.connector()
"""

from chimplink.platforms.demo.connector import DemoConnector
from chimplink.platforms.demo.generate import LABELS, GeneratedContact, generate_contacts
from chimplink.platforms.demo.platform import DemoPlatform
from chimplink.platforms.demo.schema import DEMO_FIELDS

__all__ = [
    "DEMO_FIELDS",
    "LABELS",
    "DemoConnector",
    "DemoPlatform",
    "GeneratedContact",
    "generate_contacts",
]
