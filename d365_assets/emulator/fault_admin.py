"""Admin routes on the F&O origin (bearer required) to change the active faults at run time.

- ``GET /_emulator/faults``: ``{"faults": [...]}``, each fault's ``count`` being what remains;
- ``POST /_emulator/faults``: body a fault object, a list of them, or ``{"faults": [...],
  "replace": true}``; activates them (after clearing the active ones with ``"replace": true``);
- ``DELETE /_emulator/faults``: clears every fault;
- ``POST /_emulator/tokens/revoke``: expires every issued access token now (F&O then answers 401).
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import FaultStore, faults_from_json

__all__ = ["fault_routes"]


def fault_routes(faults: FaultStore) -> list[Route]:
    """The admin routes over ``faults``."""

    async def listing() -> Response:
        active = await run_in_threadpool(faults.active)
        return JSONResponse({"faults": [fault.to_dict() for fault in active]})

    async def get(_request: Request) -> Response:
        return await listing()

    async def post(request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        try:
            doc = json.loads(text or "null")
            replace_all = isinstance(doc, dict) and bool(doc.get("replace", False))
            new = faults_from_json(text)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad faults document: {exc}"}, status_code=400)
        await run_in_threadpool(faults.add, new, replace_all=replace_all)
        return await listing()

    async def delete(_request: Request) -> Response:
        await run_in_threadpool(faults.clear)
        return await listing()

    async def revoke(_request: Request) -> Response:
        return JSONResponse({"revoked": await run_in_threadpool(faults.revoke_tokens)})

    return [
        Route("/_emulator/faults", get, methods=["GET"]),
        Route("/_emulator/faults", post, methods=["POST"]),
        Route("/_emulator/faults", delete, methods=["DELETE"]),
        Route("/_emulator/tokens/revoke", revoke, methods=["POST"]),
    ]
