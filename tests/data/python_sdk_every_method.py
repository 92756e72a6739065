"""A user's script calling every method of the Python SDK, sync and async: the tests check it
with ``mypy --strict`` (as a user's CI would) and that it names every public method.

It is type-checked, not run; the behaviour is tested against a real server in
tests/test_python_sdk.py.
"""

from __future__ import annotations

import datetime as dt

import httpx

from xkit_client import (
    AsyncXkit,
    Connection,
    ConnectionDeleted,
    ConnectionPage,
    ConnectionWithToken,
    Connector,
    Context,
    ContextPage,
    ContextWithToken,
    CreatedWebhook,
    Delivery,
    MailAddress,
    MailEvents,
    MailFolder,
    MailMessage,
    MailPage,
    NotFound,
    ProviderUnavailable,
    ReconnectRequired,
    SentMail,
    Webhook,
    WebhookEvent,
    WebhookResumed,
    WebhookSecret,
    WebhookVerificationError,
    Xkit,
    XkitConnectionError,
    construct_event,
    sign_webhook,
    verify_webhook,
)


def with_sync(xkit: Xkit, body: bytes, headers: dict[str, str]) -> None:
    context: ContextWithToken = xkit.create_context("user-42", name="Ada", plan="pro")
    token_expires: dt.datetime = context.token_expires_at
    fetched: Context = xkit.get_context("user-42")
    try:
        connection: ConnectionWithToken = xkit.get_connection(
            "user-42", "outlook-email", force_refresh=True, subject=None)
    except ReconnectRequired as error:
        code: str | None = error.error_code
        print(code)
        return
    except ProviderUnavailable as error:
        wait: float = error.retry_after
        print(wait)
        return
    except (NotFound, XkitConnectionError):
        return
    expires: dt.datetime | None = connection.expires_at
    by_id: ConnectionWithToken = xkit.get_connection_by_id(connection.id)
    token: str = xkit.get_access_token("user-42", "outlook-email")
    listed: list[Connection] = xkit.list_connections("user-42")
    machine: Connection = xkit.connect("user-42", "box-client-credentials",
                                       fields={"enterprise_id": "575619"})
    page: ConnectionPage = xkit.list_platform_connections(status="error", limit=50)
    cursor: str | None = page.next_cursor
    everyone: list[str] = [c.context for c in xkit.iter_connections(connector="outlook-email")]
    contexts: ContextPage = xkit.list_contexts(limit=20, cursor=None)
    users: list[str] = [c.external_id for c in xkit.iter_contexts(page_size=50)]
    response: httpx.Response = xkit.proxy(connection.id, "GET", "me/messages",
                                          params={"$top": 5})
    with xkit.stream_proxy(connection.id, "GET", "me/photo/$value") as streamed:
        size = sum(len(chunk) for chunk in streamed.iter_bytes())
    mail_page: MailPage = xkit.list_mail(connection.id, unread=True, since=expires, limit=10)
    everything: list[MailMessage] = list(xkit.iter_mail(connection.id, query="invoice"))
    first: MailMessage = xkit.get_mail(connection.id, mail_page.messages[0].id)
    pdf: bytes = xkit.get_mail_bytes(connection.id, first.id, first.attachments[0].id)
    rfc822: bytes = xkit.get_mail_bytes(connection.id, first.id)
    sent: SentMail = xkit.send_mail(connection.id, to=[MailAddress(address="a@example.com")],
                                    subject="Hi", text="Hello", attachments=[
                                        ("a.pdf", "application/pdf", pdf)])
    replied: SentMail = xkit.send_mail(connection.id, in_reply_to=first.id, text="Thanks")
    moved: MailMessage = xkit.update_mail(connection.id, first.id, read=True, folder="archive")
    folders: list[MailFolder] = xkit.list_mail_folders(connection.id)
    print(everything, rfc822, sent.id, replied.thread_id, moved.read, folders)
    following: MailEvents = xkit.enable_mail_events(connection.id, folders=["inbox"])
    followed: MailEvents = xkit.get_mail_events(connection.id)
    stopped: MailEvents = xkit.disable_mail_events(connection.id)
    print(following.folders, followed.synced_at, stopped.enabled)
    deleted: ConnectionDeleted = xkit.delete_connection(by_id.id)
    attempted: bool = deleted.revocation.attempted
    connectors: list[Connector] = xkit.list_connectors()
    outlook: Connector = xkit.get_connector("outlook-email")
    created: CreatedWebhook = xkit.create_webhook("https://api.example.com/hooks",
                                                  events=["connection.error"], description="x")
    secret: str = created.signing_secret
    hooks: list[Webhook] = xkit.list_webhooks()
    hook: Webhook = xkit.get_webhook(created.id)
    changed: Webhook = xkit.update_webhook(created.id, enabled=False, events=[])
    resumed: WebhookResumed = xkit.resume_webhook(created.id)
    rotated: WebhookSecret = xkit.rotate_webhook_secret(created.id)
    log: list[Delivery] = xkit.webhook_deliveries(created.id, status="failed", limit=10)
    again: Delivery = xkit.redeliver(created.id, log[0].id)
    xkit.delete_webhook(created.id)
    xkit.delete_context("user-42")
    Xkit.verify_webhook(body, headers.get("Xkit-Signature"), rotated.signing_secret)
    event: WebhookEvent = Xkit.construct_event(body, headers, secret)
    print(token_expires, fetched, expires, token, listed, machine, cursor, everyone, contexts,
          users, response, size,
          attempted, connectors, outlook, hooks, hook, changed, resumed, again, event)
    xkit.close()


async def with_async(client: AsyncXkit, body: bytes, headers: dict[str, str]) -> None:
    context: ContextWithToken = await client.create_context("user-42", name="Ada")
    fetched: Context = await client.get_context("user-42")
    connection: ConnectionWithToken = await client.get_connection("user-42", "outlook-email")
    by_id: ConnectionWithToken = await client.get_connection_by_id(connection.id)
    token: str = await client.get_access_token("user-42", "outlook-email")
    listed: list[Connection] = await client.list_connections("user-42")
    machine: Connection = await client.connect("user-42", "paypal")
    page: ConnectionPage = await client.list_platform_connections(context="user-42")
    everyone: list[str] = [c.id async for c in client.iter_connections(status="connected")]
    contexts: ContextPage = await client.list_contexts(limit=20)
    users: list[str] = [c.external_id async for c in client.iter_contexts()]
    response: httpx.Response = await client.proxy(connection.id, "GET", "me")
    async with client.stream_proxy(connection.id, "GET", "me/photo/$value") as streamed:
        size = 0
        async for chunk in streamed.aiter_bytes():
            size += len(chunk)
    mail_page: MailPage = await client.list_mail(connection.id, folder="inbox", sender="x@y.z")
    everything: list[MailMessage] = [m async for m in client.iter_mail(connection.id)]
    first: MailMessage = await client.get_mail(connection.id, mail_page.messages[0].id)
    pdf: bytes = await client.get_mail_bytes(connection.id, first.id, first.attachments[0].id)
    sent: SentMail = await client.send_mail(connection.id, to=[MailAddress(address="a@b.c")],
                                            html="<p>Hi</p>", cc=[], bcc=[])
    moved: MailMessage = await client.update_mail(connection.id, first.id, read=False)
    folders: list[MailFolder] = await client.list_mail_folders(connection.id)
    print(everything, pdf, sent, moved, folders)
    following: MailEvents = await client.enable_mail_events(connection.id)
    followed: MailEvents = await client.get_mail_events(connection.id)
    stopped: MailEvents = await client.disable_mail_events(connection.id)
    print(following.folders, followed.last_error, stopped.enabled)
    deleted: ConnectionDeleted = await client.delete_connection(by_id.id)
    connectors: list[Connector] = await client.list_connectors()
    outlook: Connector = await client.get_connector("outlook-email")
    created: CreatedWebhook = await client.create_webhook("https://api.example.com/hooks")
    hooks: list[Webhook] = await client.list_webhooks()
    hook: Webhook = await client.get_webhook(created.id)
    changed: Webhook = await client.update_webhook(created.id, url="https://api.example.com/2")
    resumed: WebhookResumed = await client.resume_webhook(created.id)
    rotated: WebhookSecret = await client.rotate_webhook_secret(created.id)
    log: list[Delivery] = await client.webhook_deliveries(created.id)
    again: Delivery = await client.redeliver(created.id, log[0].id)
    await client.delete_webhook(created.id)
    await client.delete_context("user-42")
    AsyncXkit.verify_webhook(body, headers.get("Xkit-Signature"), rotated.signing_secret)
    event: WebhookEvent = AsyncXkit.construct_event(body, headers, created.signing_secret)
    print(context, fetched, token, listed, machine, page, everyone, contexts, users, response,
          size, deleted, connectors,
          outlook, hooks, hook, changed, resumed, again, event)
    await client.aclose()


def helpers(body: bytes, text: str, headers: dict[str, str], secret: str) -> WebhookEvent | None:
    header: str = sign_webhook(body, secret)
    verify_webhook(body, header, secret, tolerance_seconds=60)
    verify_webhook(text, header, secret)
    try:
        return construct_event(body, headers, secret)
    except WebhookVerificationError:
        return None


def configured() -> tuple[Xkit, AsyncXkit]:
    return (
        Xkit("https://xkit.example.com", "xkit_pk_1", "xkit_sk_1", timeout=10.0, max_retries=3,
             max_retry_wait=5.0),
        AsyncXkit("https://xkit.example.com", "xkit_pk_1", "xkit_sk_1",
                  http=httpx.AsyncClient(base_url="https://xkit.example.com",
                                         auth=("xkit_pk_1", "xkit_sk_1"), timeout=5.0)),
    )
