"""Platforms: the `Connector` protocol (and the optional `PhotoLibrary`), and the built-in
connectors (sql, push, demo)."""

from chimplink.platforms.base import (
    Connector,
    ConnectorError,
    Consent,
    ConsentWithdrawn,
    Contact,
    EmailChanged,
    Erasure,
    FieldSpec,
    FieldType,
    FieldValue,
    InboundChange,
    Photo,
    PhotoLibrary,
    ProfileChanged,
)

__all__ = [
    "Connector",
    "ConnectorError",
    "Consent",
    "ConsentWithdrawn",
    "Contact",
    "EmailChanged",
    "Erasure",
    "FieldSpec",
    "FieldType",
    "FieldValue",
    "InboundChange",
    "Photo",
    "PhotoLibrary",
    "ProfileChanged",
]
