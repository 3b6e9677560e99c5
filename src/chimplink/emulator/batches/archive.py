"""The results archive of a batch, in Mailchimp's format (REFERENCE.md §7.2).

`response_body_url` serves a gzipped tar of JSON files. Each file is a JSON
array of `{"status_code": int, "operation_id": str|null, "response": str}`,
where `response` is the operation's response body as a *string* that needs a
second parse. Normally one file per operation; a paged GET spans several.
Files sit at the top of the archive (no directory entries), so readers that
iterate members and extract each one never meet a directory.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from collections.abc import Sequence

from chimplink.emulator.batches.models import OperationResult


def build(batch_id: str, results: Sequence[OperationResult]) -> bytes:
    """The .tar.gz bytes: one JSON file per result entry."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index, result in enumerate(results):
            content = json.dumps(
                [result.model_dump(mode="json")], separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
            info = tarfile.TarInfo(name=f"{batch_id}-{index:06d}.json")
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def encode(archive: bytes) -> str:
    return base64.b64encode(archive).decode("ascii")


def decode(archive_b64: str) -> bytes:
    return base64.b64decode(archive_b64)
