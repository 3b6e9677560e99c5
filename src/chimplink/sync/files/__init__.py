"""Photos both ways: the platform's photos ⇄ Mailchimp's File Manager (REFERENCE.md §1, §9).

Start with `push_photos` (push.py: one photo, an album, or all; limits first,
intents before each non-idempotent upload, reconciliation by listing the
folder) and `pull_photos` (pull.py: import chosen images, or all, by their
`full_size_url`). `status.py` has what a Photos page shows. Imports nothing
from `web/`.
"""

from chimplink.sync.files.folder import default_folder_name, ensure_folder
from chimplink.sync.files.limits import (
    ALLOWED_EXTENSIONS,
    IMAGE_EXTENSIONS,
    MAX_FILE_BYTES,
    Limit,
    LimitViolation,
    check_limits,
)
from chimplink.sync.files.naming import original_name, sent_name, token, token_of, upload_name
from chimplink.sync.files.pull import pull_photos
from chimplink.sync.files.push import CountingPhotoLibrary, push_photo, push_photos
from chimplink.sync.files.report import (
    FileAction,
    FileOptions,
    FileOutcome,
    FileProgress,
    FileProgressCallback,
    FileReport,
)
from chimplink.sync.files.status import (
    ImagePage,
    MailchimpImage,
    PhotoState,
    PhotoSyncStatus,
    list_mailchimp_images,
    photo_states_page,
)

__all__ = [
    "ALLOWED_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MAX_FILE_BYTES",
    "CountingPhotoLibrary",
    "FileAction",
    "FileOptions",
    "FileOutcome",
    "FileProgress",
    "FileProgressCallback",
    "FileReport",
    "ImagePage",
    "Limit",
    "LimitViolation",
    "MailchimpImage",
    "PhotoState",
    "PhotoSyncStatus",
    "check_limits",
    "default_folder_name",
    "ensure_folder",
    "list_mailchimp_images",
    "original_name",
    "photo_states_page",
    "pull_photos",
    "push_photo",
    "push_photos",
    "sent_name",
    "token",
    "token_of",
    "upload_name",
]
