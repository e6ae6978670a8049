"""A hub that answers just enough of the API and Xet protocol for `upload_file`, and keeps
nothing: every body is read to the end and dropped. Against it the stock client's upload time
is its own floor on this machine (chunking, hashing, compressing, sending), with the same
uvicorn reading the bytes as hugbox. Run: python null_cas.py PORT
"""

from __future__ import annotations

import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REPO = "/api/{kind}/{namespace}/{name}"


async def _drain(request: Request) -> int:
    size = 0
    async for part in request.stream():
        size += len(part)
    return size


async def create_repo(request: Request) -> Response:
    body = await request.json()
    return JSONResponse({"url": f"{request.base_url}{body['organization']}/{body['name']}"})


async def preupload(request: Request) -> Response:
    files = (await request.json())["files"]
    modes = [{"path": f["path"], "uploadMode": "lfs", "shouldIgnore": False} for f in files]
    return JSONResponse({"files": modes, "commitOid": "0" * 40})


async def xet_token(request: Request) -> Response:
    cas, exp = f"{str(request.base_url).rstrip('/')}/cas", int(time.time()) + 3600
    headers = {"X-Xet-Cas-Url": cas, "X-Xet-Access-Token": "t", "X-Xet-Token-Expiration": str(exp)}
    return JSONResponse({"casUrl": cas, "accessToken": "t", "exp": exp}, headers=headers)


async def xorb(request: Request) -> Response:
    await _drain(request)
    return JSONResponse({"was_inserted": True})


async def shard(request: Request) -> Response:
    await _drain(request)
    return JSONResponse({"result": 1})


async def not_here(request: Request) -> Response:
    await _drain(request)
    return Response(status_code=404)


async def commit(request: Request) -> Response:
    await _drain(request)
    url = f"{request.base_url}{request.path_params['namespace']}/{request.path_params['name']}"
    return JSONResponse({"commitUrl": f"{url}/commit/{'0' * 40}", "commitOid": "0" * 40})


async def health(request: Request) -> Response:
    return Response(status_code=200)


async def telemetry(request: Request) -> Response:
    await _drain(request)
    return Response(status_code=200)


app = Starlette(
    routes=[
        Route("/api/repos/create", create_repo, methods=["POST"]),
        Route(REPO + "/preupload/{rev}", preupload, methods=["POST"]),
        Route(REPO + "/xet-write-token/{rev}", xet_token),
        Route(REPO + "/commit/{rev}", commit, methods=["POST"]),
        Route("/cas/v1/xorbs/{prefix}/{hash}", xorb, methods=["POST"]),
        Route("/cas/v1/shards", shard, methods=["POST"]),
        Route("/cas/{rest:path}", not_here, methods=["GET", "POST"]),
        Route("/v1/telemetry", telemetry, methods=["POST"]),
        Route("/health", health),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
