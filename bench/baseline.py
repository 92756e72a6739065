"""The baseline: a bare ASGI app doing only the irreducible work of a token fetch.

Authenticate the key by its hash, select the one authorization row, decrypt its token, answer
JSON — on the same server (uvicorn, uvloop, httptools), the same driver and the same engine
as xkit's token fetch (``xkit.db.engine.create_engine``, xkit's one pool; on PostgreSQL its
reads in autocommit, as ``Runtime.token_deps.reads``),
with no framework, no middleware and no logging. xkit's throughput divided by
this one's is the price of everything xkit adds (routing, validation, error handling, scoping
checks, access log).

Run by ``bench.token_fetch`` as ``uvicorn bench.baseline:app`` with xkit's environment.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import text

from xkit.crypto import Keyring, fingerprint, parse_key_spec
from xkit.db.engine import create_engine
from xkit.services.configuration.keyring import column_aad

KEY_QUERY = text("SELECT platform_id FROM api_keys WHERE secret_hash = :hash "
                 "AND revoked_at IS NULL")
ROW_QUERY = text("""
    SELECT a.id, a.access_token, a.token_type, a.expires_at, c.id AS connection_id
    FROM contexts x
    JOIN connections c ON c.context_id = x.id AND c.enabled
    JOIN connectors k ON k.id = c.connector_id AND k.slug = :slug
    JOIN authorizations a ON a.connection_id = c.id AND a.status = 'active'
    WHERE x.platform_id = :platform AND x.external_id = :external_id
    ORDER BY a.created_at DESC LIMIT 1
""")


class Baseline:
    def __init__(self) -> None:
        self.engine: Any = None
        self.reads: Any = None  # the same engine and pool, in autocommit on PostgreSQL
        self.keyring: Keyring | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path == "/healthz":
            await _answer(send, 200, b'{"status": "ok"}')
            return
        # /api/platform/contexts/{external_id}/connections/{slug}
        parts = path.split("/")
        if len(parts) != 7 or parts[3] != "contexts" or parts[5] != "connections":
            await _answer(send, 404, b'{"error": {"code": "not_found"}}')
            return
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
        secret = authorization.removeprefix("Bearer ")
        assert self.reads is not None
        async with self.reads.connect() as connection:
            platform_id = (await connection.execute(
                KEY_QUERY, {"hash": fingerprint(secret)})).scalar()
            if platform_id is None:
                await _answer(send, 401, b'{"error": {"code": "invalid_api_key"}}')
                return
            row = (await connection.execute(ROW_QUERY, {
                "platform": platform_id, "external_id": parts[4], "slug": parts[6]})).first()
        if row is None:
            await _answer(send, 404, b'{"error": {"code": "connection_not_found"}}')
            return
        assert self.keyring is not None
        token = self.keyring.decrypt(row.access_token,
                                     aad=column_aad("authorizations", "access_token", row.id))
        expires_at = row.expires_at
        body = {"connection": {"id": row.connection_id},
                "authorization": {"id": row.id, "access_token": token,
                                  "token_type": row.token_type,
                                  "expires_at": str(expires_at)}}
        await _answer(send, 200, json.dumps(body).encode())

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ["XKIT_DATABASE_URL"]
                pool = {} if url.startswith("sqlite") else {
                    "pool_size": int(os.environ.get("XKIT_DATABASE_POOL_SIZE", 10)),
                    "max_overflow": int(os.environ.get("XKIT_DATABASE_MAX_OVERFLOW", 5))}
                # Built as xkit's runtime builds it.
                self.engine = create_engine(url, hide_parameters=True, **pool)
                self.reads = (self.engine if url.startswith("sqlite") else
                              self.engine.execution_options(isolation_level="AUTOCOMMIT"))
                self.keyring = Keyring(parse_key_spec(os.environ["XKIT_ENCRYPTION_KEYS"]))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.engine.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


app = Baseline()
