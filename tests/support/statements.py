"""Requests answered by xkit's app in this process, with the SQL statements each one ran.

How many statements a route runs is part of its speed (docs/performance.md), and a test that
counts them shows a change that adds one. The app runs on a runtime of its own
(``XkitEnvironment.with_runtime``) behind httpx's ASGI transport, and SQLAlchemy's
``before_cursor_execute`` event notes each statement while a counted request is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event

from tests.support.xkit import PlatformCredentials, XkitEnvironment
from xkit.app import create_app
from xkit.runtime import Runtime


@dataclass(frozen=True)
class Call:
    """One request to send: its method, path and JSON body."""

    method: str
    path: str
    json: Any = None


@dataclass
class Answered:
    """A request's answer, and the statements it ran (none noted for an uncounted request)."""

    status: int
    body: Any
    statements: list[str] = field(default_factory=list)

    @property
    def verbs(self) -> list[str]:
        """Each statement's first word: ``["SELECT", "INSERT", …]``."""
        return [statement.split()[0].upper() for statement in self.statements]


def answered_counting(environment: XkitEnvironment, platform: PlatformCredentials,
                      calls: Sequence[Call | str], *, count: bool = True) -> list[Answered]:
    """Each call (a bare path is a GET) sent with the platform's API key, in order. With
    ``count=False`` nothing listens to the statements, so paths that run only when nothing
    does (``xkit.db.driver``) are taken."""

    async def work(runtime: Runtime) -> list[Answered]:
        app = create_app(runtime=runtime)
        app.state.runtime = runtime  # what the lifespan does
        statements: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        answers = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://xkit.test",
                                     auth=platform.basic_auth) as http:
            for call in calls:
                if isinstance(call, str):
                    call = Call("GET", call)
                if count:
                    event.listen(runtime.engine.sync_engine, "before_cursor_execute", note)
                try:
                    response = await http.request(call.method, call.path, json=call.json)
                finally:
                    if count:
                        event.remove(runtime.engine.sync_engine, "before_cursor_execute", note)
                answers.append(Answered(response.status_code, response.json(), list(statements)))
                statements.clear()
        return answers

    return environment.with_runtime(work)
