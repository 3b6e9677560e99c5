"""What a Photos page shows: the platform's photos with their Mailchimp status, and the
File Manager's images with where they came from.

    states = await photo_states_page(sessions=sessions, installation_id=installation.id,
                                     library=connector, album="Summer", limit=48)
    images = await list_mailchimp_images(sessions=sessions, installation_id=installation.id,
                                         client=client, offset=0, count=48)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chimplink.mailchimp import File, MailchimpClient
from chimplink.platforms import Photo, PhotoLibrary
from chimplink.store.files import (
    Upload,
    UploadStatus,
    file_owners,
    load_imports,
    photo_states,
)

__all__ = [
    "ImagePage",
    "MailchimpImage",
    "PhotoState",
    "PhotoSyncStatus",
    "list_mailchimp_images",
    "photo_states_page",
]


class PhotoSyncStatus(StrEnum):
    """A photo's status in plain words, for a badge."""

    NOT_SENT = "not sent"
    SENT = "sent"
    CHANGED = "changed since sent"  # the next push uploads a new version
    SENDING = "not confirmed"  # an upload without an answer yet; the next push checks
    FAILED = "failed"  # sent again on the next push
    REJECTED = "rejected"  # over a limit, or refused: see the message


@dataclass(frozen=True)
class PhotoState:
    photo: Photo
    upload: Upload | None  # chimplink's newest record of the photo, if any

    @property
    def status(self) -> PhotoSyncStatus:
        upload = self.upload
        if upload is None:
            return PhotoSyncStatus.NOT_SENT
        if upload.status is UploadStatus.UPLOADED:
            changed = (
                self.photo.content_hash is not None
                and self.photo.content_hash != upload.content_hash
            )
            return PhotoSyncStatus.CHANGED if changed else PhotoSyncStatus.SENT
        if upload.status is UploadStatus.PENDING:
            return PhotoSyncStatus.SENDING
        if upload.status is UploadStatus.REJECTED:
            return PhotoSyncStatus.REJECTED
        return PhotoSyncStatus.FAILED

    @property
    def message(self) -> str | None:
        return self.upload.message if self.upload is not None else None

    @property
    def file_url(self) -> str | None:
        """The photo's image in Mailchimp (the current version), once sent."""
        upload = self.upload
        return upload.url if upload is not None and upload.status is UploadStatus.UPLOADED else None


async def photo_states_page(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    library: PhotoLibrary,
    album: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[PhotoState]:
    """Up to `limit` photos after the cursor `after` (of `album`), each with its status."""
    photos: list[Photo] = []
    async for page in library.photos(after=after, page_size=limit, album=album):
        photos.extend(page[: limit - len(photos)])
        if len(photos) >= limit:
            break
    async with sessions() as session:
        states = await photo_states(
            session=session, installation_id=installation_id, keys=[p.key for p in photos]
        )
    return [PhotoState(photo, states.get(photo.key)) for photo in photos]


@dataclass(frozen=True)
class MailchimpImage:
    file: File
    sent_from: str | None  # the platform photo chimplink uploaded it from, if it did
    imported_as: str | None  # the platform photo it was imported as, if it was


@dataclass(frozen=True)
class ImagePage:
    images: list[MailchimpImage]
    total: int
    offset: int
    count: int


async def list_mailchimp_images(
    *,
    sessions: async_sessionmaker[AsyncSession],
    installation_id: str,
    client: MailchimpClient,
    offset: int = 0,
    count: int = 50,
) -> ImagePage:
    """One page of the File Manager's images, newest first (thumbnails: `file.thumbnail_url`)."""
    files, total = await client.file_manager.files.page(
        type="image", count=count, offset=offset, sort_field="added_date", sort_dir="DESC"
    )
    ids = [f.id for f in files]
    async with sessions() as session:
        owners = await file_owners(session=session, installation_id=installation_id, file_ids=ids)
        imports = await load_imports(session=session, installation_id=installation_id, file_ids=ids)
    images = [
        MailchimpImage(
            file=f,
            sent_from=owners[f.id].platform_key if f.id in owners else None,
            imported_as=imports[f.id].platform_key if f.id in imports else None,
        )
        for f in files
    ]
    return ImagePage(images=images, total=total, offset=offset, count=count)
