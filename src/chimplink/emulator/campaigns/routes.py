"""URL tables of campaigns and reports: API, control plane and the public archive."""

from chimplink.emulator.campaigns import handlers, reports
from chimplink.emulator.campaigns.archive import archive_page
from chimplink.emulator.campaigns.control import record_activity
from chimplink.emulator.routing import Route

_CAMPAIGN = "/campaigns/{campaign_id}"
_REPORT = "/reports/{campaign_id}"

routes = [
    Route("GET", "/campaigns", handlers.list_campaigns),
    Route("POST", "/campaigns", handlers.create_campaign),
    Route("GET", _CAMPAIGN, handlers.get_campaign),
    Route("PATCH", _CAMPAIGN, handlers.update_campaign),
    Route("DELETE", _CAMPAIGN, handlers.delete_campaign),
    Route("GET", f"{_CAMPAIGN}/content", handlers.get_content),
    Route("PUT", f"{_CAMPAIGN}/content", handlers.put_content),
    Route("POST", f"{_CAMPAIGN}/actions/send", handlers.send_campaign),
    Route("GET", "/reports", reports.list_reports),
    Route("GET", _REPORT, reports.get_report),
    Route("GET", f"{_REPORT}/email-activity", reports.list_email_activity),
    Route("GET", f"{_REPORT}/email-activity/{{subscriber_hash}}", reports.get_email_activity),
]

control_routes = [
    Route("POST", "/campaigns/{campaign_id}/activity", record_activity),
]

public_routes = [
    Route("GET", "/campaign-archive/{campaign_id}", archive_page),
]
