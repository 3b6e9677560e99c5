"""`GET /healthz`: the process is up and the database answers."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chimplink.connect import ping_database
from chimplink.web.state import State

router = APIRouter()
_log = structlog.get_logger("chimplink.web")


@router.get("/healthz")
async def healthz(state: State) -> JSONResponse:
    try:
        await ping_database(state.services)
    except Exception as exc:
        _log.warning("web.health.database_unreachable", error=type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
