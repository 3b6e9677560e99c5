"""The `sql` connector: any SQLAlchemy database, read by a mapping file.

    connector = await SqlConnector.open("postgresql://shop@db/shop", mapping="contacts.toml")

The mapping format is documented in `chimplink.platforms.mapping_file`.
"""

from chimplink.platforms.mapping_file import MappingError, MappingFile, load_mapping, parse_mapping
from chimplink.platforms.sql.connector import SqlConnector
from chimplink.platforms.sql.engine import platform_engine, platform_url

__all__ = [
    "MappingError",
    "MappingFile",
    "SqlConnector",
    "load_mapping",
    "parse_mapping",
    "platform_engine",
    "platform_url",
]
