"""Typed models of the Mailchimp resources chimplink uses (lenient to new fields)."""

from chimplink.mailchimp.models._base import MailchimpModel, Timestamp
from chimplink.mailchimp.models.account import (
    AccountInfo,
    MetadataLogin,
    OAuthMetadata,
    Ping,
    TokenResponse,
)
from chimplink.mailchimp.models.batches import (
    Batch,
    BatchSubscribeMemberError,
    BatchSubscribeResponse,
    BatchWebhook,
)
from chimplink.mailchimp.models.campaigns import Campaign, Report
from chimplink.mailchimp.models.ecommerce import (
    Customer,
    Order,
    OrderLine,
    Product,
    ProductVariant,
    Store,
)
from chimplink.mailchimp.models.file_manager import File, Folder
from chimplink.mailchimp.models.lists import (
    MailingList,
    MergeField,
    Segment,
    Webhook,
    WebhookEvents,
    WebhookSources,
)
from chimplink.mailchimp.models.members import (
    Member,
    MemberEvent,
    MemberStatus,
    MemberTag,
    WritableStatus,
)

__all__ = [
    "AccountInfo",
    "Batch",
    "BatchSubscribeMemberError",
    "BatchSubscribeResponse",
    "BatchWebhook",
    "Campaign",
    "Customer",
    "File",
    "Folder",
    "MailchimpModel",
    "MailingList",
    "Member",
    "MemberEvent",
    "MemberStatus",
    "MemberTag",
    "MergeField",
    "MetadataLogin",
    "OAuthMetadata",
    "Order",
    "OrderLine",
    "Ping",
    "Product",
    "ProductVariant",
    "Report",
    "Segment",
    "Store",
    "Timestamp",
    "TokenResponse",
    "Webhook",
    "WebhookEvents",
    "WebhookSources",
    "WritableStatus",
]
