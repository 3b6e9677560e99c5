"""The public names of the connector modules."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "chimplink.platforms.sql",
            {
                "MappingError",
                "MappingFile",
                "SqlConnector",
                "load_mapping",
                "parse_mapping",
                "platform_engine",
                "platform_url",
            },
        ),
        (
            "chimplink.platforms.demo",
            {
                "DEMO_FIELDS",
                "LABELS",
                "DemoConnector",
                "DemoPlatform",
                "GeneratedContact",
                "generate_contacts",
            },
        ),
    ],
)
def test_exports(module: str, names: set[str]) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == names
    for name in names:
        assert getattr(imported, name) is not None


def test_mapping_file_exports() -> None:
    from chimplink.platforms import mapping_file

    for name in mapping_file.__all__:
        assert hasattr(mapping_file, name)
