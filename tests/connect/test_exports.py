"""The public APIs of connect, jobs and web are explicit; this guards them against accidents."""

from __future__ import annotations

import chimplink.connect as connect
import chimplink.jobs as jobs
import chimplink.web as web


def test_every_export_exists_and_is_listed_once() -> None:
    for module in (connect, jobs, web):
        assert len(module.__all__) == len(set(module.__all__))
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_the_lifecycle_api() -> None:
    assert {
        "Services",
        "open_services",
        "start_connect",
        "finish_connect",
        "installation_client",
        "list_accounts",
        "list_audiences",
        "choose_audience",
        "uninstall",
        "run_due_cleanups",
        "removal_instructions",
        "webhook_url",
        "ConnectError",
        "NeedsReconnect",
    } <= set(connect.__all__)
    assert {"Task", "EmbeddedRunner", "builtin_tasks", "run_task"} <= set(jobs.__all__)
    assert set(web.__all__) == {"create_app", "mint_link", "verify_link"}
