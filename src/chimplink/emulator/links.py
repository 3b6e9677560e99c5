"""Mailchimp's hypermedia `_links`: present on most responses (REFERENCE.md §2)."""

from __future__ import annotations

SCHEMA_BASE = "https://api.mailchimp.com/schema/3.0"


def link(rel: str, href: str, method: str = "GET", schema: str | None = None) -> dict[str, str]:
    item = {"rel": rel, "href": href, "method": method}
    if schema:
        item["targetSchema"] = f"{SCHEMA_BASE}/Definitions/{schema}.json"
    return item


def self_links(href: str, schema: str | None = None) -> list[dict[str, str]]:
    return [link("self", href, "GET", schema)]
