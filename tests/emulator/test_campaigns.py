"""Campaigns (create, content, send) and their reports, fed by the control plane's
recorded opens, clicks and bounces."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator
from tests.emulator.test_deliveries import FIRED_AT, fields, settled, wait_until
from tests.emulator.test_webhooks import ALL_EVENTS, Receiver, make_hook, running_receiver

CAMPAIGNS = "/campaigns"
CAMPAIGN = "/campaigns/{campaign_id}"
CONTENT = f"{CAMPAIGN}/content"
SEND = f"{CAMPAIGN}/actions/send"
REPORTS = "/reports"
REPORT = "/reports/{campaign_id}"
ACTIVITY = f"{REPORT}/email-activity"
MEMBER_ACTIVITY = f"{ACTIVITY}/{{subscriber_hash}}"
NOT_READY = "Your Campaign is not ready to send."

LIST_BODY = {
    "name": "Newsletter",
    "permission_reminder": "You signed up on our site.",
    "email_type_option": False,
    "contact": {
        "company": "News Co",
        "address1": "1 Road",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "News Co",
        "from_email": "news@news-co.example",
        "subject": "News",
        "language": "en",
    },
}
SETTINGS = {
    "subject_line": "Spring news",
    "from_name": "News Co",
    "reply_to": "news@news-co.example",
    "title": "Spring",
}
HTML = (
    "<html><body><p>Hello &amp; welcome</p><a href='https://news-co.example/a'>A</a></body></html>"
)


def shaped(template: str, **ids: str) -> str:
    return template.format(**ids)


def digest(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def expect_problem(
    response: httpx.Response, method: str, path: str, status: int, title: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = assert_conforms(response, method, path)
    assert body["title"] == title, body
    return body


def ok(response: httpx.Response, method: str, path: str) -> Any:
    assert response.status_code in (200, 204), response.text
    return assert_conforms(response, method, path)


async def make_list(account: Account, members: dict[str, str] | None = None) -> str:
    response = await account.post("/lists", json=LIST_BODY)
    assert response.status_code == 200, response.text
    list_id = str(response.json()["id"])
    for email, status in (members or {}).items():
        put = await account.put(
            f"/lists/{list_id}/members/{digest(email)}",
            json={"email_address": email, "status_if_new": status},
        )
        assert put.status_code == 200, put.text
    return list_id


async def make_campaign(account: Account, list_id: str, **extra: Any) -> dict[str, Any]:
    body = {"type": "regular", "recipients": {"list_id": list_id}, "settings": SETTINGS, **extra}
    response = await account.post(CAMPAIGNS, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def sent_campaign(account: Account, members: dict[str, str]) -> tuple[str, str]:
    list_id = await make_list(account, members)
    campaign = await make_campaign(account, list_id)
    await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": HTML})
    response = await account.post(shaped(SEND, campaign_id=campaign["id"]))
    assert response.status_code == 204, response.text
    return list_id, str(campaign["id"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


async def record(emulator: Emulator, campaign_id: str, **body: Any) -> httpx.Response:
    return await emulator.client.post(f"/_emulator/campaigns/{campaign_id}/activity", json=body)


# -- campaigns -------------------------------------------------------------------------


async def test_campaign_lifecycle_conforms(account: Account) -> None:
    list_id = await make_list(account, {"a@news-co.example": "subscribed"})
    created = ok(
        await account.post(
            CAMPAIGNS,
            json={"type": "regular", "recipients": {"list_id": list_id}, "settings": SETTINGS},
        ),
        "POST",
        CAMPAIGNS,
    )
    assert created["status"] == "save"
    assert created["emails_sent"] == 0
    assert created["settings"]["subject_line"] == "Spring news"
    assert created["recipients"]["list_id"] == list_id
    assert created["recipients"]["list_name"] == "Newsletter"
    assert created["recipients"]["recipient_count"] == 1
    assert created["_links"][0]["href"].endswith(f"/3.0/campaigns/{created['id']}")
    assert "report_summary" not in created

    url = shaped(CAMPAIGN, campaign_id=created["id"])
    assert ok(await account.get(url), "GET", CAMPAIGN)["type"] == "regular"
    patched = ok(
        await account.patch(url, json={"settings": {**SETTINGS, "subject_line": "Summer news"}}),
        "PATCH",
        CAMPAIGN,
    )
    assert patched["settings"]["subject_line"] == "Summer news"
    assert patched["settings"]["title"] == "Spring"

    bare = ok(await account.post(CAMPAIGNS, json={"type": "plaintext"}), "POST", CAMPAIGNS)
    assert bare["recipients"]["list_id"] == ""
    assert bare["recipients"]["list_is_active"] is False

    listed = ok(await account.get(CAMPAIGNS), "GET", CAMPAIGNS)
    assert listed["total_items"] == 2
    by_list = ok(await account.get(CAMPAIGNS, params={"list_id": list_id}), "GET", CAMPAIGNS)
    assert [c["id"] for c in by_list["campaigns"]] == [created["id"]]
    by_type = ok(await account.get(CAMPAIGNS, params={"type": "plaintext"}), "GET", CAMPAIGNS)
    assert [c["id"] for c in by_type["campaigns"]] == [bare["id"]]
    paged = ok(await account.get(CAMPAIGNS, params={"count": 1, "offset": 1}), "GET", CAMPAIGNS)
    assert [c["id"] for c in paged["campaigns"]] == [bare["id"]]
    assert paged["total_items"] == 2

    assert ok(await account.delete(url), "DELETE", CAMPAIGN) is None
    for method in ("GET", "DELETE"):
        response = await account.request(method, url)
        body = expect_problem(response, method, CAMPAIGN, 404, "Resource Not Found")
        assert body["detail"] == "The requested resource could not be found."
    expect_problem(
        await account.patch(url, json={"settings": SETTINGS}),
        "PATCH",
        CAMPAIGN,
        404,
        "Resource Not Found",
    )


async def test_campaign_create_and_update_errors(account: Account) -> None:
    unknown_list = await account.post(
        CAMPAIGNS, json={"type": "regular", "recipients": {"list_id": "nope"}}
    )
    body = expect_problem(unknown_list, "POST", CAMPAIGNS, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "recipients.list_id"

    bad_type = await account.post(CAMPAIGNS, json={"type": "carrier-pigeon"})
    body = expect_problem(bad_type, "POST", CAMPAIGNS, 400, "Invalid Resource")
    assert body["errors"] == [
        {"field": "type", "message": "Schema describes enum, carrier-pigeon found instead"}
    ]
    no_type = await account.post(CAMPAIGNS, json={"settings": SETTINGS})
    body = expect_problem(no_type, "POST", CAMPAIGNS, 400, "Invalid Resource")
    assert body["errors"][0]["message"] == "Required fields were not provided: type"

    bad_reply_to = await account.post(
        CAMPAIGNS, json={"type": "regular", "settings": {**SETTINGS, "reply_to": "nobody"}}
    )
    body = expect_problem(bad_reply_to, "POST", CAMPAIGNS, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "settings.reply_to"

    list_id = await make_list(account)
    campaign = await make_campaign(account, list_id)
    url = shaped(CAMPAIGN, campaign_id=campaign["id"])
    # The spec (3.0.85) makes `settings` with subject, from name and reply-to required on PATCH.
    partial = await account.patch(url, json={"recipients": {"list_id": list_id}})
    body = expect_problem(partial, "PATCH", CAMPAIGN, 400, "Invalid Resource")
    assert body["errors"][0]["message"] == "Required fields were not provided: settings"
    to_unknown = await account.patch(
        url, json={"settings": SETTINGS, "recipients": {"list_id": "nope"}}
    )
    expect_problem(to_unknown, "PATCH", CAMPAIGN, 400, "Invalid Resource")
    assert (await account.get(url)).json()["recipients"]["list_id"] == list_id

    bad_status = await account.get(CAMPAIGNS, params={"status": "lost"})
    expect_problem(bad_status, "GET", CAMPAIGNS, 400, "Invalid Resource")
    bad_time = await account.get(CAMPAIGNS, params={"since_create_time": "yesterday"})
    expect_problem(bad_time, "GET", CAMPAIGNS, 400, "Invalid Resource")


async def test_campaign_time_filters_and_sorting(account: Account) -> None:
    list_id = await make_list(account)
    first = await make_campaign(account, list_id)
    second = await make_campaign(account, list_id)
    everything = await account.get(
        CAMPAIGNS, params={"since_create_time": "2000-01-01T00:00:00+00:00"}
    )
    assert everything.json()["total_items"] == 2
    nothing = await account.get(CAMPAIGNS, params={"before_create_time": "2000-01-01T00:00:00Z"})
    assert nothing.json()["total_items"] == 0
    newest_first = await account.get(
        CAMPAIGNS, params={"sort_field": "create_time", "sort_dir": "DESC"}
    )
    ids = [c["id"] for c in newest_first.json()["campaigns"]]
    assert set(ids) == {first["id"], second["id"]}
    sent_since = await account.get(CAMPAIGNS, params={"since_send_time": "2000-01-01T00:00:00"})
    assert sent_since.json()["total_items"] == 0


# -- content ---------------------------------------------------------------------------


async def test_content_conforms(account: Account) -> None:
    list_id = await make_list(account)
    campaign = await make_campaign(account, list_id)
    url = shaped(CONTENT, campaign_id=campaign["id"])
    empty = ok(await account.get(url), "GET", CONTENT)
    assert empty["html"] == ""
    put = ok(await account.put(url, json={"html": HTML}), "PUT", CONTENT)
    assert put["html"] == HTML
    assert put["plain_text"].startswith("Hello & welcome")
    assert "<" not in put["plain_text"]
    both = ok(await account.put(url, json={"html": HTML, "plain_text": "Hi"}), "PUT", CONTENT)
    assert both["plain_text"] == "Hi"
    assert ok(await account.get(url), "GET", CONTENT)["plain_text"] == "Hi"
    assert (await account.get(shaped(CAMPAIGN, campaign_id=campaign["id"]))).json()[
        "content_type"
    ] == "html"

    missing = shaped(CONTENT, campaign_id="nope")
    expect_problem(await account.get(missing), "GET", CONTENT, 404, "Resource Not Found")
    expect_problem(
        await account.put(missing, json={"html": "x"}), "PUT", CONTENT, 404, "Resource Not Found"
    )
    wrong_type = await account.put(url, json={"html": 5})
    expect_problem(wrong_type, "PUT", CONTENT, 400, "Invalid Resource")
    template = await account.put(url, json={"template": {"id": 1}})
    body = expect_problem(template, "PUT", CONTENT, 400, "Invalid Resource")
    assert body["errors"][0]["field"] == "template"


# -- send -------------------------------------------------------------------------------


async def test_send_counts_subscribed_members_and_only_once(account: Account) -> None:
    list_id = await make_list(
        account,
        {
            "a@news-co.example": "subscribed",
            "b@news-co.example": "subscribed",
            "c@news-co.example": "unsubscribed",
            "d@news-co.example": "transactional",
            "e@news-co.example": "pending",
        },
    )
    campaign = await make_campaign(account, list_id)
    send = shaped(SEND, campaign_id=campaign["id"])

    not_ready = await account.post(send)
    body = expect_problem(not_ready, "POST", SEND, 400, "Bad Request")
    assert body["detail"] == NOT_READY

    await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": HTML})
    response = await account.post(send)
    assert response.status_code == 204
    assert ok(response, "POST", SEND) is None

    fetched = (await account.get(shaped(CAMPAIGN, campaign_id=campaign["id"]))).json()
    assert fetched["status"] == "sent"
    assert fetched["emails_sent"] == 2
    assert fetched["send_time"]
    assert fetched["recipients"]["recipient_count"] == 2
    assert fetched["report_summary"]["opens"] == 0

    again = await account.post(send)
    body = expect_problem(again, "POST", SEND, 400, "Invalid Action")
    assert body["detail"] == "This campaign has already been sent."
    edit = await account.patch(
        shaped(CAMPAIGN, campaign_id=campaign["id"]), json={"settings": SETTINGS}
    )
    expect_problem(edit, "PATCH", CAMPAIGN, 400, "Invalid Action")
    recontent = await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": "x"})
    expect_problem(recontent, "PUT", CONTENT, 400, "Invalid Action")

    by_status = await account.get(CAMPAIGNS, params={"status": "sent"})
    assert [c["id"] for c in by_status.json()["campaigns"]] == [campaign["id"]]
    unknown = await account.post(shaped(SEND, campaign_id="nope"))
    expect_problem(unknown, "POST", SEND, 404, "Resource Not Found")


@pytest.mark.parametrize(
    "missing", ["list", "subject_line", "from_name", "reply_to", "subscribers"]
)
async def test_send_needs_a_complete_campaign(account: Account, missing: str) -> None:
    members = {} if missing == "subscribers" else {"a@news-co.example": "subscribed"}
    list_id = await make_list(account, members)
    settings = {k: v for k, v in SETTINGS.items() if k != missing}
    body: dict[str, Any] = {"type": "regular", "settings": settings}
    if missing != "list":
        body["recipients"] = {"list_id": list_id}
    campaign = (await account.post(CAMPAIGNS, json=body)).json()
    await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": HTML})
    response = await account.post(shaped(SEND, campaign_id=campaign["id"]))
    problem = expect_problem(response, "POST", SEND, 400, "Bad Request")
    assert problem["detail"] == NOT_READY
    fetched = (await account.get(shaped(CAMPAIGN, campaign_id=campaign["id"]))).json()
    assert fetched["status"] == "save"


# -- reports ------------------------------------------------------------------------------


async def test_reports_compute_from_recorded_activity(emulator: Emulator, account: Account) -> None:
    a, b, c = "a@news-co.example", "b@news-co.example", "c@news-co.example"
    list_id, campaign_id = await sent_campaign(
        account, {a: "subscribed", b: "subscribed", c: "subscribed", "x@news-co.example": "cleaned"}
    )
    report_url = shaped(REPORT, campaign_id=campaign_id)
    fresh = ok(await account.get(report_url), "GET", REPORT)
    assert fresh["emails_sent"] == 3
    assert fresh["opens"]["opens_total"] == 0
    assert fresh["opens"]["open_rate"] == 0

    for body in (
        {"email": a, "action": "open", "timestamp": "2020-01-01T10:00:00+00:00"},
        {"email": a, "action": "open", "timestamp": "2020-01-01T11:00:00+00:00", "ip": "1.2.3.4"},
        {"subscriber_hash": digest(b), "action": "open"},
        {
            "email": a,
            "action": "click",
            "url": "https://news-co.example/a",
            "timestamp": "2020-01-01T12:00:00+00:00",
        },
        {"email": a, "action": "click", "url": "https://news-co.example/a"},
        {"email": a, "action": "click", "url": "https://news-co.example/b"},
        {"email": c, "action": "bounce", "type": "hard"},
    ):
        response = await record(emulator, campaign_id, **body)
        assert response.status_code == 200, response.text
        assert response.json()["recorded"]["action"] == body["action"]

    report = ok(await account.get(report_url), "GET", REPORT)
    assert report["id"] == campaign_id
    assert report["list_id"] == list_id
    assert report["campaign_title"] == "Spring"
    assert report["subject_line"] == "Spring news"
    assert report["emails_sent"] == 3
    assert report["bounces"] == {"hard_bounces": 1, "soft_bounces": 0, "syntax_errors": 0}
    assert report["opens"]["opens_total"] == 3
    assert report["opens"]["unique_opens"] == 2
    assert report["opens"]["open_rate"] == 1.0  # 2 unique opens / 2 delivered
    assert report["opens"]["last_open"] >= "2020-01-01T11:00:00+00:00"
    assert report["clicks"]["clicks_total"] == 3
    assert report["clicks"]["unique_clicks"] == 2  # two links
    assert report["clicks"]["unique_subscriber_clicks"] == 1
    assert report["clicks"]["click_rate"] == 0.5
    assert report["send_time"]

    summary = (await account.get(shaped(CAMPAIGN, campaign_id=campaign_id))).json()[
        "report_summary"
    ]
    assert summary["opens"] == 3
    assert summary["unique_opens"] == 2
    assert summary["subscriber_clicks"] == 1

    activity = ok(await account.get(shaped(ACTIVITY, campaign_id=campaign_id)), "GET", ACTIVITY)
    assert activity["campaign_id"] == campaign_id
    assert activity["total_items"] == 3
    by_email = {e["email_address"]: e for e in activity["emails"]}
    assert set(by_email) == {a, b, c}
    assert [x["action"] for x in by_email[a]["activity"]] == [
        "open",
        "open",
        "click",
        "click",
        "click",
    ]
    assert by_email[a]["email_id"] == digest(a)
    assert by_email[a]["list_id"] == list_id
    assert by_email[a]["activity"][1]["ip"] == "1.2.3.4"
    assert by_email[a]["activity"][2]["url"] == "https://news-co.example/a"
    assert by_email[c]["activity"] == [
        {
            "action": "bounce",
            "type": "hard",
            "timestamp": by_email[c]["activity"][0]["timestamp"],
            "ip": "",
        }
    ]
    paged = ok(
        await account.get(shaped(ACTIVITY, campaign_id=campaign_id), params={"count": 1}),
        "GET",
        ACTIVITY,
    )
    assert len(paged["emails"]) == 1
    assert paged["total_items"] == 3

    one = ok(
        await account.get(
            shaped(MEMBER_ACTIVITY, campaign_id=campaign_id, subscriber_hash=digest(a))
        ),
        "GET",
        MEMBER_ACTIVITY,
    )
    assert len(one["activity"]) == 5
    since = ok(
        await account.get(
            shaped(MEMBER_ACTIVITY, campaign_id=campaign_id, subscriber_hash=a),
            params={"since": "2020-01-01T11:30:00+00:00"},
        ),
        "GET",
        MEMBER_ACTIVITY,
    )
    # The two clicks recorded without a timestamp happened "now", after 2020.
    assert [x["action"] for x in since["activity"]] == ["click", "click", "click"]
    assert since["activity"][0]["timestamp"] == "2020-01-01T12:00:00+00:00"


async def test_report_errors_and_unsent_campaigns(emulator: Emulator, account: Account) -> None:
    list_id = await make_list(account, {"a@news-co.example": "subscribed"})
    draft = await make_campaign(account, list_id)
    # Reports exist once a campaign is sent.
    for path in (REPORT, ACTIVITY):
        response = await account.get(shaped(path, campaign_id=draft["id"]))
        expect_problem(response, "GET", path, 404, "Resource Not Found")
    expect_problem(
        await account.get(
            shaped(MEMBER_ACTIVITY, campaign_id=draft["id"], subscriber_hash="a@news-co.example")
        ),
        "GET",
        MEMBER_ACTIVITY,
        404,
        "Resource Not Found",
    )
    unsent = await record(emulator, draft["id"], email="a@news-co.example", action="open")
    assert unsent.status_code == 404

    _list_id, campaign_id = await sent_campaign(account, {"a@news-co.example": "subscribed"})
    stranger = await account.get(
        shaped(
            MEMBER_ACTIVITY, campaign_id=campaign_id, subscriber_hash=digest("z@news-co.example")
        )
    )
    expect_problem(stranger, "GET", MEMBER_ACTIVITY, 404, "Resource Not Found")
    bad_since = await account.get(
        shaped(ACTIVITY, campaign_id=campaign_id), params={"since": "last week"}
    )
    expect_problem(bad_since, "GET", ACTIVITY, 400, "Invalid Resource")
    bad_type = await account.get(REPORTS, params={"type": "fax"})
    expect_problem(bad_type, "GET", REPORTS, 400, "Invalid Resource")

    unknown_campaign = await record(emulator, "nope", email="a@news-co.example", action="open")
    assert unknown_campaign.status_code == 404
    assert unknown_campaign.json()["title"] == "Resource Not Found"
    not_recipient = await record(emulator, campaign_id, email="z@news-co.example", action="open")
    assert not_recipient.status_code == 404
    bad_action = await record(emulator, campaign_id, email="a@news-co.example", action="forward")
    assert bad_action.status_code == 400
    assert bad_action.json()["title"] == "Invalid Resource"
    assert bad_action.json()["errors"][0]["field"] == "action"
    click_without_url = await record(
        emulator, campaign_id, email="a@news-co.example", action="click"
    )
    assert click_without_url.status_code == 400
    bad_bounce = await record(
        emulator, campaign_id, email="a@news-co.example", action="bounce", type="medium"
    )
    assert bad_bounce.status_code == 400
    nobody = await record(emulator, campaign_id, action="open")
    assert nobody.status_code == 400
    bad_time = await record(
        emulator, campaign_id, email="a@news-co.example", action="open", timestamp="soon"
    )
    assert bad_time.status_code == 400


async def test_reports_list_only_sent_campaigns(account: Account) -> None:
    list_id = await make_list(account, {"a@news-co.example": "subscribed"})
    await make_campaign(account, list_id)
    sent_ids = []
    for _ in range(3):
        campaign = await make_campaign(account, list_id)
        await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": HTML})
        await account.post(shaped(SEND, campaign_id=campaign["id"]))
        sent_ids.append(campaign["id"])
    listed = ok(await account.get(REPORTS), "GET", REPORTS)
    assert listed["total_items"] == 3
    assert [r["id"] for r in listed["reports"]] == sent_ids
    paged = ok(await account.get(REPORTS, params={"count": 2, "offset": 2}), "GET", REPORTS)
    assert [r["id"] for r in paged["reports"]] == sent_ids[2:]
    future = await account.get(REPORTS, params={"since_send_time": "2999-01-01T00:00:00+00:00"})
    assert future.json()["total_items"] == 0


async def test_report_includes_attributed_ecommerce_revenue(account: Account) -> None:
    list_id, campaign_id = await sent_campaign(account, {"a@news-co.example": "subscribed"})
    await account.post(
        "/ecommerce/stores",
        json={"id": "shop", "list_id": list_id, "name": "Shop", "currency_code": "EUR"},
    )
    await account.post(
        "/ecommerce/stores/shop/products",
        json={"id": "p", "title": "P", "variants": [{"id": "p", "title": "P"}]},
    )
    for n, total in ((1, 10.0), (2, 5.5)):
        response = await account.post(
            "/ecommerce/stores/shop/orders",
            json={
                "id": f"o{n}",
                "customer": {
                    "id": "c",
                    "email_address": "a@news-co.example",
                    "opt_in_status": True,
                },
                "campaign_id": campaign_id,
                "currency_code": "EUR",
                "order_total": total,
                "lines": [
                    {
                        "id": "l",
                        "product_id": "p",
                        "product_variant_id": "p",
                        "quantity": 1,
                        "price": total,
                    }
                ],
            },
        )
        assert response.status_code == 200, response.text
    report = (await account.get(shaped(REPORT, campaign_id=campaign_id))).json()
    assert report["ecommerce"] == {
        "total_orders": 2,
        "total_spent": 15.5,
        "total_revenue": 15.5,
        "currency_code": "EUR",
    }


async def test_archive_page_serves_the_sent_html(emulator: Emulator, account: Account) -> None:
    _list_id, campaign_id = await sent_campaign(account, {"a@news-co.example": "subscribed"})
    campaign = (await account.get(shaped(CAMPAIGN, campaign_id=campaign_id))).json()
    assert campaign["archive_url"].endswith(f"/campaign-archive/{campaign_id}")
    page = await emulator.client.get(f"/campaign-archive/{campaign_id}")
    assert page.status_code == 200
    assert page.text == HTML
    missing = await emulator.client.get("/campaign-archive/nope")
    assert missing.status_code == 404


async def test_send_fires_the_campaign_webhook_whatever_the_sources(
    emulator: Emulator, account: Account, receiver: Receiver
) -> None:
    list_id = await make_list(account, {"a@news-co.example": "subscribed"})
    # A webhook that wants no API-sourced events still gets campaign events
    # (REFERENCE.md §4.1: campaign events "can not be limited by source").
    await make_hook(
        account,
        list_id,
        receiver.url("/hook"),
        events={**ALL_EVENTS, "campaign": True},
        sources={"user": True, "admin": True, "api": False},
    )
    campaign = await make_campaign(account, list_id)
    await account.put(shaped(CONTENT, campaign_id=campaign["id"]), json={"html": HTML})
    assert (await account.post(shaped(SEND, campaign_id=campaign["id"]))).status_code == 204
    [record] = await wait_until(emulator, settled(1))
    assert record["type"] == "campaign"
    assert record["source"] == "api"
    assert record["outcome"] == "delivered"
    [post] = receiver.requests("POST", "/hook")
    form = fields(post.body)
    assert form == {
        "type": "campaign",
        "fired_at": form["fired_at"],
        "data[id]": campaign["id"],
        "data[subject]": "Spring news",
        "data[status]": "sent",
        "data[reason]": "",
        "data[list_id]": list_id,
    }
    assert FIRED_AT.match(form["fired_at"])


async def test_settings_title_is_type_checked(account: Account) -> None:
    response = await account.post(
        CAMPAIGNS, json={"type": "regular", "settings": {**SETTINGS, "title": 7}}
    )
    problem = expect_problem(response, "POST", CAMPAIGNS, 400, "Invalid Resource")
    assert problem["errors"] == [
        {"field": "settings.title", "message": "Schema describes string, integer found instead"}
    ]
