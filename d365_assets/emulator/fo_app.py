"""The F&O origin: bearer-protected DMF actions, ``$count``, ``$metadata`` and the emulator admin routes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .authority import token_hash
from .dataset import Dataset
from .dmf import DmfError, DmfService, ModelStateError
from .entities import EntityDef, find_entity
from .metadata import metadata_xml
from .odata import action_error, envelope, model_state_error, unauthorized
from .store import Store

__all__ = ["FoHooks", "build_fo_app"]

_ACTION_PREFIX = "Microsoft.Dynamics.DataEntities."
_FILTER = re.compile(r"^\s*dataareaid\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FoHooks:
    """What the F&O app needs from the emulator that owns it."""

    environment_url: Callable[[], str]
    blob_host: Callable[[], str]
    current_round: Callable[[], int]
    advance: Callable[[int], int]
    message_status: Callable[[object], str] | None = None
    """GetMessageStatus of the recurring integrations API, when the emulator has recurring jobs."""


class _BearerAuth:
    """ASGI middleware: every request needs a known, unexpired bearer token for this environment."""

    def __init__(self, app: ASGIApp, *, store: Store, environment_url: Callable[[], str]) -> None:
        self.app = app
        self.store = store
        self.environment_url = environment_url

    def _audiences(self) -> set[str]:
        url = self.environment_url().lower()
        return {url, url.replace("://127.0.0.1:", "://localhost:")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        ok = False
        if scheme.lower() == "bearer" and token.strip():
            found = await run_in_threadpool(self.store.get_token, token_hash(token.strip()))
            ok = found is not None and found[2] > time.time() and found[1].lower() in self._audiences()
        if not ok:
            await unauthorized()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_fo_app(
    *,
    service: DmfService,
    dataset: Dataset,
    store: Store,
    hooks: FoHooks,
    admin_routes: Sequence[BaseRoute] = (),
) -> ASGIApp:
    """The F&O origin's ASGI app (bearer check included); ``admin_routes`` are added behind it too."""
    fo = _FoRoutes(service, dataset, hooks)
    data_routes = [
        Route(
            "/data/DataManagementDefinitionGroups/" + _ACTION_PREFIX + "{action}", fo.action, methods=["POST"]
        ),
        Route("/data/DataManagementDefinitionGroups/{other:path}", fo.unknown_action, methods=["POST"]),
        Route("/data/$metadata", fo.metadata, methods=["GET"]),
        Route("/data/{collection}/$count", fo.count, methods=["GET"]),
    ]
    app = Starlette(
        routes=[
            *data_routes,
            Mount("/namespaces/AXSF", routes=data_routes),
            Route("/_emulator/activity", fo.activity, methods=["POST"]),
            Route("/_emulator/info", fo.info, methods=["GET"]),
            *admin_routes,
        ]
    )
    return _BearerAuth(app, store=store, environment_url=hooks.environment_url)


class _FoRoutes:
    """The F&O origin's routes: DMF actions, OData $metadata and $count, and the emulator's own."""

    def __init__(self, service: DmfService, dataset: Dataset, hooks: FoHooks) -> None:
        self.service = service
        self.dataset = dataset
        self.hooks = hooks

    def _run_action(self, action: str, body: object) -> str:
        service, hooks = self.service, self.hooks
        if action in ("ExportToPackage", "ExportToPackageAsync"):
            return service.export_to_package(body)
        if action == "GetExecutionSummaryStatus":
            return service.summary_status(body)
        if action == "GetExportedPackageUrl":
            return service.exported_package_url(body, blob_host=hooks.blob_host())
        if action == "GetExecutionErrors":
            return service.execution_errors(body)
        if action == "GetExecutionSummaryPageUrl":
            return service.summary_page_url(body, environment_url=hooks.environment_url())
        if action == "GetMessageStatus" and hooks.message_status is not None:
            return hooks.message_status(body)
        raise LookupError(action)

    async def action(self, request: Request) -> Response:
        name = request.path_params["action"]
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return model_state_error()
        try:
            value = await run_in_threadpool(self._run_action, name, body)
        except LookupError:
            return _not_found(
                f"No action named '{_ACTION_PREFIX}{name}' is bound to DataManagementDefinitionGroups."
            )
        except ModelStateError:
            return model_state_error()
        except DmfError as exc:
            if exc.status != 400:
                return Response(status_code=exc.status, headers={"OData-Version": "4.0"})
            return action_error(name, str(exc))
        return envelope(value, environment_url=self.hooks.environment_url())

    async def unknown_action(self, request: Request) -> Response:
        return _not_found(f"No HTTP resource was found that matches the request URI '{request.url.path}'.")

    async def count(self, request: Request) -> Response:
        """``$count`` as strict as F&O: only the exact public collection name (case-sensitive), and
        without ``cross-company=true`` only the default company's rows (the first company)."""
        collection = request.path_params["collection"]
        try:
            entity = find_entity(collection)
        except KeyError:
            entity = None
        if entity is None or entity.name != collection:  # a label, AOT name or other casing: unknown
            return _not_found(
                f"No HTTP resource was found that matches the request URI '{request.url.path}'."
            )
        query = request.query_params
        match = _FILTER.match(query.get("$filter", "")) if "$filter" in query else None
        if "$filter" in query and match is None:
            return _not_found("Only $filter=dataAreaId eq '<company>' is supported by the emulator.")
        round_ = await run_in_threadpool(self.hooks.current_round)
        total = 0
        for company in self._counted_companies(entity, match, query.get("cross-company", "")):
            total += await run_in_threadpool(self.dataset.count, entity, company, round_=round_)
        return PlainTextResponse(str(total), headers={"OData-Version": "4.0"})

    def _counted_companies(
        self, entity: EntityDef, match: re.Match[str] | None, cross_company: str
    ) -> tuple[str | None, ...]:
        """The companies a ``$count`` covers: those visible (all with ``cross-company=true``, else the
        default company), narrowed by a ``dataAreaId`` filter."""
        if not entity.company_specific:
            return (None,)
        visible = self.dataset.companies if cross_company.lower() == "true" else self.dataset.companies[:1]
        if match:
            company = match.group(1).upper()
            return (company,) if company in visible else ()
        return visible

    async def metadata(self, _request: Request) -> Response:
        return Response(metadata_xml(), media_type="application/xml", headers={"OData-Version": "4.0"})

    async def activity(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            rounds = int(body.get("rounds", 1))
        except (ValueError, AttributeError, TypeError):
            return JSONResponse({"error": 'body must be {"rounds": <int>}'}, status_code=400)
        if rounds < 0:
            return JSONResponse({"error": "rounds must be >= 0"}, status_code=400)
        return JSONResponse({"round": await run_in_threadpool(self.hooks.advance, rounds)})

    async def info(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "round": await run_in_threadpool(self.hooks.current_round),
                "companies": list(self.dataset.companies),
                "projects": sorted(self.service.projects),
            }
        )


def _not_found(message: str) -> Response:
    body = {"error": {"code": "", "message": message}}
    return JSONResponse(body, status_code=404, headers={"OData-Version": "4.0"})
