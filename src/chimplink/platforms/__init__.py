"""Platforms: the `Connector` protocol and the built-in connectors (sql, push, demo)."""

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
    "ProfileChanged",
]
