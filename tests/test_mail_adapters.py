"""The mail adapters at their boundary: a provider answering what its API does not document,
and each provider's refusals read into xkit's errors. (Everything else runs end to end in
tests/test_mail_outlook.py and tests/test_mail_gmail.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from xkit.errors import Forbidden, InvalidInput, NotFound
from xkit.services.mail import gmail, graph
from xkit.services.mail.calls import MailThrottled, ProviderFailed, failure, provider_shape
from xkit.services.mail.models import ListQuery
from xkit.services.tokens.proxy import ProxyResponse

pytestmark = pytest.mark.database_independent


class CannedMailbox:
    """Answers every call with the next canned document, as a provider's 2xx would."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)

    async def json(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        return self.answers.pop(0)


def _run(coroutine: Any) -> Any:
    async def guarded() -> Any:
        with provider_shape():
            return await coroutine
    return asyncio.run(guarded())


@pytest.mark.parametrize("adapter", [graph, gmail])
def test_an_answer_without_what_the_api_documents_is_a_provider_failure(adapter: Any) -> None:
    with pytest.raises(ProviderFailed):
        _run(adapter.get_message(CannedMailbox({"value": "not a message"}), "m1"))


def test_a_forged_cursor_is_refused_before_any_call() -> None:
    for adapter in (graph, gmail):
        with pytest.raises(InvalidInput):
            _run(adapter.list_messages(CannedMailbox(), ListQuery(cursor="bm90IGEgY3Vyc29y")))


def _response(status: int, headers: list[tuple[str, str]] | None = None) -> ProxyResponse:
    async def nothing() -> None:
        return None
    return ProxyResponse(status_code=status, headers=headers or [], body=None,  # type: ignore[arg-type]
                         close=nothing)


@pytest.mark.parametrize(("adapter", "status", "body", "expected", "code"), [
    (graph, 403, b'{"error":{"code":"ErrorAccessDenied","message":"Access is denied."}}',
     Forbidden, "mail_scope_missing"),
    (graph, 429, b'{"error":{"code":"ApplicationThrottled","message":"MailboxConcurrency"}}',
     MailThrottled, "mail_throttled"),
    (graph, 404, b'{"error":{"code":"ErrorItemNotFound","message":"not found"}}',
     NotFound, "mail_not_found"),
    (graph, 400, b'{"error":{"code":"ErrorInvalidRecipients","message":"bad recipient"}}',
     InvalidInput, "mail_refused"),
    (gmail, 403, b'{"error":{"code":403,"message":"Request had insufficient authentication '
                 b'scopes.","errors":[{"reason":"insufficientPermissions"}]}}',
     Forbidden, "mail_scope_missing"),
    (gmail, 403, b'{"error":{"code":403,"message":"User Rate Limit Exceeded",'
                 b'"errors":[{"reason":"userRateLimitExceeded"}]}}', MailThrottled,
     "mail_throttled"),
    (gmail, 500, b"<html>oops</html>", ProviderFailed, "provider_error"),
])
def test_each_providers_refusal_becomes_an_error_a_backend_can_act_on(
        adapter: Any, status: int, body: bytes, expected: type, code: str) -> None:
    error = failure(_response(status, [("Retry-After", "7")]), body, "Mail.Send",
                    adapter.read_error)
    assert isinstance(error, expected) and error.code == code
    if isinstance(error, MailThrottled):
        assert error.details["retry_after"] == 7
