"""Under random faults (throttling, 5xx before and after Mailchimp stored the file,
connections reset after sending), pushes repeated until one completes leave every photo
in Mailchimp exactly once, each recorded with the file that holds it."""

from __future__ import annotations

from collections import Counter

from chimplink.store.files import UploadStatus, photo_states
from chimplink.store.sync_state import RunStatus
from chimplink.sync.files import FileOptions, token
from tests.files.conftest import FilesEnv


async def test_random_faults_never_lose_or_duplicate_a_photo(env: FilesEnv) -> None:
    for number in range(20):
        await env.platform.photos.add(f"extra-{number}.gif", b"GIF89a" + bytes([number]) * 40)
    # Certain faults on uploads (stored then 500 / connection reset; 503 before storing),
    # then a random fault on a quarter of every request, folder calls included.
    for kind in ("500", "reset", "503"):
        await env.fault(kind, count=2)
    response = await env.http.post("/_emulator/config", json={"fault_rate": 0.25})
    assert response.status_code == 200
    statuses = []
    for _ in range(8):
        report = await env.push(options=FileOptions(workers=6, retry_rounds=1))
        statuses.append(report.status)
        if report.status is RunStatus.COMPLETED:
            break
    assert statuses[-1] is RunStatus.COMPLETED, statuses
    await env.http.post("/_emulator/config", json={"fault_rate": 0})

    stats = (await env.http.get("/_emulator/stats")).json()["accounts"][env.account_id]
    faults = Counter(stats["faults"])
    assert faults["500"] >= 2 and faults["reset"] >= 2 and faults["503"] >= 2
    photos = await env.platform.photos.find(limit=100)
    files = await env.files()
    by_token = Counter(f["name"].rsplit(".", 1)[0].rsplit("-", 1)[1] for f in files)
    assert by_token == Counter({token(p.key, p.content_hash or ""): 1 for p in photos})
    assert len(await env.folders()) == 1
    async with env.db.sessions() as session:
        states = await photo_states(session=session, installation_id=env.installation_id)
    assert {s.status for s in states.values()} == {UploadStatus.UPLOADED}
    assert {s.file_id for s in states.values()} == {f["id"] for f in files}
