"""The push API, `/api/v1`: a platform upserts and deletes its contacts in bulk.

    PUT    /api/v1/fields               declare the fields contacts carry
    GET    /api/v1/fields
    PUT    /api/v1/contacts             upsert up to 1,000 contacts; a result per contact
    GET    /api/v1/contacts?after=      contacts in change order (Mailchimp's changes too)
    GET    /api/v1/contacts/{key}
    DELETE /api/v1/contacts/{key}       ?erase=true: erase (GDPR) rather than delete
    POST   /api/v1/contacts/delete      delete or erase up to 1,000 keys
    GET    /api/v1/openapi.json         this API's OpenAPI document

Every request but the document's carries `Authorization: Bearer <key>`, a
tenant's key from `chimplink push-key create`; a missing, wrong or revoked
key gets the same 401, and a key only ever reaches its own tenant's data.
The key is checked before the body is read.

Mounted by `create_app` as an app of its own, so that every answer is JSON —
errors are problem details (RFC 9457), never the UI's HTML pages — and its
OpenAPI document describes these routes only. It shares the parent app's
state (the services its lifespan built).

Upserts check each contact on its own: a bad one is answered with its errors
and changes nothing, the others are stored (like Mailchimp's batch
subscribe). A request-level problem (malformed JSON, more than 1,000
contacts, a body over `MAX_BODY_BYTES`) changes nothing at all.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import State as StarletteState
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chimplink.platforms import Consent, FieldType
from chimplink.platforms.push.models import (
    ContactIn,
    FieldIn,
    FieldsIn,
    ItemError,
    check_contact,
    check_fields,
    contact_document,
    decode_cursor,
    errors_of,
)
from chimplink.store.push import (
    MAX_BATCH,
    DeleteStatus,
    PushContactInput,
    authenticate_push_key,
    delete_push_contacts,
    get_push_contacts,
    get_push_fields,
    list_push_contacts,
    set_push_fields,
    upsert_push_contacts,
)
from chimplink.web.state import State

__all__ = ["MAX_BODY_BYTES", "api_mount", "create_api"]

_log = structlog.get_logger("chimplink.web")

MAX_BODY_BYTES = 8 * 1024 * 1024  # 1,000 contacts of a few kB each, with room to spare
_PROBLEM = "application/problem+json"


# -- answers ------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str = Field(description="Where: a dotted path such as `email` or `fields.birthday`.")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ErrorDetail] | None = None


class ContactOut(BaseModel):
    key: str
    email: str
    consent: Consent
    fields: dict[str, Any]
    labels: list[str]
    cursor: str = Field(description="Grows with every change to the contact.")
    updated_at: str = Field(description="ISO 8601, UTC.")


class ContactPage(BaseModel):
    contacts: list[ContactOut]
    next: str | None = Field(
        description="Pass as `after` to read on (or, later, to read what changed since)."
    )
    has_more: bool


class UpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contacts: Annotated[list[ContactIn], Field(max_length=MAX_BATCH)]


class UpsertItem(BaseModel):
    index: int = Field(description="The contact's position in the request.")
    key: str | None
    status: Literal["created", "updated", "unchanged", "invalid"]
    errors: list[ErrorDetail] = []


class UpsertResult(BaseModel):
    results: list[UpsertItem]
    counts: dict[str, int]


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=MAX_BATCH)
    ]
    erase: bool = Field(
        False,
        description="Erase (GDPR) rather than delete: the address is never synced again and, "
        "if the operator enabled it, is deleted permanently in Mailchimp.",
    )


class DeleteItem(BaseModel):
    key: str
    status: Literal["deleted", "erased", "not_found"]


class DeleteResult(BaseModel):
    results: list[DeleteItem]
    counts: dict[str, int]


class FieldsOut(BaseModel):
    fields: list[FieldIn]


# -- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """Answered as problem details; nothing was changed."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[ItemError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[ItemError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return Response(json.dumps(body).encode(), status, headers=headers, media_type=_PROBLEM)


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "Unauthorized",
        "Send a push API key as `Authorization: Bearer <key>` (`chimplink push-key create`).",
        headers={"WWW-Authenticate": 'Bearer realm="chimplink"'},
    )


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            ItemError(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()
        ]
        return problem(
            422, "Invalid request", "The request's parameters are invalid.", errors=errors
        )

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return problem(404, "Not found", "No such resource in the push API.")
        if exc.status_code == 405:
            return problem(
                405,
                "Method not allowed",
                "This address does not answer that method.",
                headers=dict(exc.headers or {}),
            )
        return problem(exc.status_code, "Request refused", str(exc.detail))


class _Guard:
    """The API's outermost layer: bodies over a limit get 413, any escaped error a JSON 500.

    The limit holds for chunked bodies too (counted as they arrive), so a
    client cannot make the process hold more than `limit` bytes of one request.
    """

    class _TooLarge(Exception):
        pass

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._send(send, self._too_large())
            return
        started = False
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise self._TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except self._TooLarge:
            if not started:
                await self._send(send, self._too_large())
        except Exception:
            error_id = secrets.token_hex(6)
            _log.exception("web.api_error", error_id=error_id)
            if not started:
                await self._send(
                    send,
                    problem(
                        500,
                        "Internal error",
                        f"The request failed on chimplink's side (error {error_id}). "
                        "It may have changed nothing or everything; upserts and deletes are "
                        "safe to repeat.",
                    ),
                )

    def _too_large(self) -> Response:
        return problem(
            413,
            "Request too large",
            f"Bodies are limited to {self.limit} bytes; send fewer contacts.",
        )

    @staticmethod
    async def _send(send: Send, response: Response) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})


# -- authentication -------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="A tenant's push API key (`chimplink push-key create --tenant T`).",
)


async def api_tenant(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The tenant whose key the request carries; 401 otherwise (the same for every reason)."""
    if credentials is None:
        raise _unauthorized()
    services = state.services
    async with services.sessions.begin() as session:
        key = await authenticate_push_key(
            session=session, key=credentials.credentials, now=services.clock()
        )
    if key is None:
        raise _unauthorized()
    return key.tenant_id


TenantId = Annotated[str, Depends(api_tenant)]


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Malformed JSON", "The request body is not valid JSON.") from None


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a JSON body the handler reads itself (after checking the key)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _problem_doc(description: str) -> dict[str, Any]:
    """An error answer in the OpenAPI document: problem details, in their own media type."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {_PROBLEM: {"schema": schema}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem_doc("Missing, wrong or revoked API key."),
    422: _problem_doc("The request as a whole is invalid; nothing changed."),
}

router = APIRouter()


# -- fields ------------------------------------------------------------------------------------


@router.get("/fields", response_model=FieldsOut, responses=_ERRORS, tags=["fields"])
async def get_fields(state: State, tenant_id: TenantId) -> dict[str, Any]:
    """The fields the tenant's contacts carry."""
    async with state.services.sessions() as session:
        fields = await get_push_fields(session=session, tenant_id=tenant_id)
    return {"fields": [{"name": f.name, "type": f.type, "label": f.label} for f in fields]}


@router.put(
    "/fields",
    response_model=FieldsOut,
    responses=_ERRORS,
    openapi_extra=_documented(FieldsIn),
    tags=["fields"],
)
async def put_fields(request: Request, state: State, tenant_id: TenantId) -> dict[str, Any]:
    """Declare every field contacts carry (replaces the previous list; stored values stay)."""
    fields, errors = check_fields(await _json_body(request))
    if errors:
        raise ApiError(
            422, "Invalid fields", "The field list is invalid; nothing changed.", errors=errors
        )
    async with state.services.sessions.begin() as session:
        await set_push_fields(
            session=session, tenant_id=tenant_id, fields=fields, now=state.services.clock()
        )
    return {"fields": [{"name": f.name, "type": f.type, "label": f.label} for f in fields]}


# -- contacts ------------------------------------------------------------------------------


def _contacts_of(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("contacts"), list):
        raise ApiError(
            422,
            "Invalid request",
            'The body must be a JSON object with a "contacts" list.',
            errors=[ItemError("contacts", "a list of contacts is required")],
        )
    extra = sorted(set(body) - {"contacts"})
    if extra:
        raise ApiError(
            422,
            "Invalid request",
            f"Unknown member(s) of the body: {', '.join(extra)}.",
            errors=[ItemError(name, "not a member of an upsert request") for name in extra],
        )
    contacts: list[Any] = body["contacts"]
    if len(contacts) > MAX_BATCH:
        raise ApiError(
            422,
            "Too many contacts",
            f"At most {MAX_BATCH} contacts per request, not {len(contacts)}; nothing was changed.",
            errors=[ItemError("contacts", f"at most {MAX_BATCH} items")],
        )
    return contacts


def _duplicates(checked: list[PushContactInput | list[ItemError]]) -> dict[int, ItemError]:
    """Contacts whose key appears more than once: all of them are refused (which one wins?)."""
    positions: dict[str, list[int]] = {}
    for index, item in enumerate(checked):
        if isinstance(item, PushContactInput):
            positions.setdefault(item.key, []).append(index)
    refused: dict[int, ItemError] = {}
    for places in positions.values():
        if len(places) > 1:
            where = ", ".join(map(str, places))
            for index in places:
                refused[index] = ItemError(
                    "key", f"appears more than once in this request (items {where})"
                )
    return refused


@router.put(
    "/contacts",
    response_model=UpsertResult,
    responses={**_ERRORS, 400: _problem_doc("Malformed JSON.")},
    openapi_extra=_documented(UpsertRequest),
    tags=["contacts"],
)
async def upsert_contacts(request: Request, state: State, tenant_id: TenantId) -> dict[str, Any]:
    """Create or replace up to 1,000 contacts; each gets its own result.

    A contact with errors is answered `invalid` with them and changes
    nothing; the valid ones are stored. Repeating a request is safe.
    """
    raw = _contacts_of(await _json_body(request))
    services = state.services
    async with services.sessions.begin() as session:
        declared = {
            f.name: FieldType(f.type)
            for f in await get_push_fields(session=session, tenant_id=tenant_id)
        }
        checked = [check_contact(item, declared) for item in raw]
        refused = _duplicates(checked)
        valid = [
            (index, item)
            for index, item in enumerate(checked)
            if isinstance(item, PushContactInput) and index not in refused
        ]
        statuses = await upsert_push_contacts(
            session=session,
            tenant_id=tenant_id,
            contacts=[item for _, item in valid],
            now=services.clock(),
        )
    done = {index: status.value for (index, _), status in zip(valid, statuses, strict=True)}
    results = []
    for index, item in enumerate(checked):
        if index in done:
            assert isinstance(item, PushContactInput)
            results.append({"index": index, "key": item.key, "status": done[index]})
            continue
        errors = [refused[index]] if index in refused else item
        assert isinstance(errors, list)
        results.append(
            {
                "index": index,
                "key": _key_of(raw[index]),
                "status": "invalid",
                "errors": [{"field": e.field, "message": e.message} for e in errors],
            }
        )
    tally = Counter(str(result["status"]) for result in results)
    counts = {name: tally.get(name, 0) for name in ("created", "updated", "unchanged", "invalid")}
    _log.info("api.contacts_upserted", tenant_id=tenant_id, **counts)
    return {"results": results, "counts": counts}


def _key_of(raw: Any) -> str | None:
    key = raw.get("key") if isinstance(raw, dict) else None
    return key if isinstance(key, str) else None


@router.get("/contacts", response_model=ContactPage, responses=_ERRORS, tags=["contacts"])
async def list_contacts(
    state: State,
    tenant_id: TenantId,
    after: Annotated[
        str | None,
        Query(description="A cursor from an earlier answer: only contacts changed after it."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 100,
) -> dict[str, Any]:
    """Contacts in change order. Changes made in Mailchimp (consent withdrawn, profile,
    email) are applied to the contacts and move them to the end, like any change."""
    try:
        since = decode_cursor(after)
    except ValueError as exc:
        raise ApiError(
            422, "Invalid cursor", str(exc), errors=[ItemError("after", "not a cursor")]
        ) from None
    async with state.services.sessions() as session:
        declared = await get_push_fields(session=session, tenant_id=tenant_id)
        page = await list_push_contacts(
            session=session, tenant_id=tenant_id, after=since, limit=limit + 1
        )
    shown = page[:limit]
    documents = [contact_document(contact, declared) for contact in shown]
    return {
        "contacts": documents,
        "next": documents[-1]["cursor"] if documents else after,
        "has_more": len(page) > limit,
    }


@router.get(
    "/contacts/{key:path}",
    response_model=ContactOut,
    responses={**_ERRORS, 404: _problem_doc("No such contact.")},
    tags=["contacts"],
)
async def get_contact(key: str, state: State, tenant_id: TenantId) -> dict[str, Any]:
    async with state.services.sessions() as session:
        declared = await get_push_fields(session=session, tenant_id=tenant_id)
        found = await get_push_contacts(session=session, tenant_id=tenant_id, keys=[key])
    if key not in found:
        raise _no_contact()
    return contact_document(found[key], declared)


def _no_contact() -> ApiError:
    return ApiError(404, "Not found", "No contact has this key.")


@router.delete(
    "/contacts/{key:path}",
    status_code=204,
    responses={**_ERRORS, 404: _problem_doc("No such contact.")},
    tags=["contacts"],
)
async def delete_contact(
    key: str,
    state: State,
    tenant_id: TenantId,
    erase: Annotated[
        bool, Query(description="Erase (GDPR) rather than delete: never synced again.")
    ] = False,
) -> Response:
    """Delete a contact: it is no longer synced (its Mailchimp member stays). With
    `erase=true`, erase it: the address is suppressed for good and, if the operator
    enabled it, deleted permanently in Mailchimp."""
    async with state.services.sessions.begin() as session:
        outcome = await delete_push_contacts(
            session=session,
            tenant_id=tenant_id,
            keys=[key],
            erase=erase,
            now=state.services.clock(),
        )
    if outcome[key] is DeleteStatus.NOT_FOUND:
        raise _no_contact()
    return Response(status_code=204)


@router.post(
    "/contacts/delete",
    response_model=DeleteResult,
    responses={**_ERRORS, 400: _problem_doc("Malformed JSON.")},
    openapi_extra=_documented(DeleteRequest),
    tags=["contacts"],
)
async def delete_contacts(request: Request, state: State, tenant_id: TenantId) -> dict[str, Any]:
    """Delete (or, with `erase`, erase) up to 1,000 contacts by key."""
    try:
        parsed = DeleteRequest.model_validate(await _json_body(request))
    except ValidationError as exc:
        raise ApiError(
            422,
            "Invalid request",
            "The delete request is invalid; nothing changed.",
            errors=errors_of(exc),
        ) from None
    async with state.services.sessions.begin() as session:
        outcome = await delete_push_contacts(
            session=session,
            tenant_id=tenant_id,
            keys=parsed.keys,
            erase=parsed.erase,
            now=state.services.clock(),
        )
    tally = Counter(status.value for status in outcome.values())
    counts = {status.value: tally.get(status.value, 0) for status in DeleteStatus}
    _log.info("api.contacts_deleted", tenant_id=tenant_id, **counts)
    return {
        "results": [{"key": key, "status": status.value} for key, status in outcome.items()],
        "counts": counts,
    }


# -- the app -----------------------------------------------------------------------------------


def _openapi(api: FastAPI) -> dict[str, Any]:
    """The document, with the bodies the handlers read themselves added to its schemas."""
    if api.openapi_schema is None:
        document = get_openapi(
            title=api.title,
            version=api.version,
            description=api.description,
            routes=api.routes,
            servers=[{"url": "/api/v1"}],
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (UpsertRequest, DeleteRequest, FieldsIn, Problem):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        api.openapi_schema = document
    return api.openapi_schema


class _Mount(Mount):
    """`Mount`, but also for paths holding a newline (a percent-encoded `%0A`).

    Starlette's pattern stops at a newline, and such a request would fall
    through to the UI's HTML 404; here the API answers it, in JSON.
    """

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def api_mount(state: StarletteState, path: str = "/api/v1") -> Mount:
    """The push API, mounted at `path`: add it to the web app's routes."""
    return _Mount(path, create_api(state))


def create_api(state: StarletteState) -> FastAPI:
    """The push API as an app of its own, to mount at `/api/v1`; it shares `state`.

    A mounted app gets no lifespan of its own: sharing the parent's state lets
    its routes find the services the parent's lifespan built.
    """
    api = FastAPI(
        title="chimplink push API",
        version="1",
        description=(
            "Push contacts to chimplink, which keeps them in sync with Mailchimp; "
            "Mailchimp's changes come back as signed webhooks (Standard Webhooks)."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state = state
    api.include_router(router)
    _install_error_handlers(api)
    api.add_middleware(_Guard, limit=MAX_BODY_BYTES)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api
