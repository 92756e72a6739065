"""Real deliveries from ``xkit serve`` verify with the maintained ``standardwebhooks`` packages
(PyPI and npm), through the very snippets docs/webhooks.md leads with; a tampered body, a wrong
or rotated-away secret fail, and ``webhook-id`` stays the same across retries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.webhooks import Received, WebhookReceiver
from tests.support.xkit import PlatformCredentials, XkitServer
from tests.test_webhooks import connect, subscribe
from xkit_client import Xkit

GUIDE = Path(__file__).parent.parent / "docs" / "webhooks.md"
NODE_PACKAGE = Path(__file__).parent / "standard_webhooks"
WRONG_SECRET = "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def guide_snippet(fence: str, marker: str) -> str:
    """The block of docs/webhooks.md that uses ``marker``: the test runs it as documented."""
    found = [block for block in re.findall(rf"```{fence}\n(.*?)```", GUIDE.read_text(), re.DOTALL)
             if marker in block]
    assert found, f"no {fence} block with {marker} in {GUIDE.name}"
    return str(found[0])


def python_verifier() -> Callable[[bytes, dict[str, str], str], Any]:
    namespace: dict[str, Any] = {}
    exec(guide_snippet("python", "from standardwebhooks"), namespace)  # the guide's own snippet
    return namespace["verify_xkit_webhook"]  # type: ignore[no-any-return]


def node_verifies(delivery: Received, secret: str, tmp_path: Path, *,
                  body: bytes | None = None) -> bool:
    """Whether the npm package, through the guide's Node.js snippet, accepts the delivery."""
    (tmp_path / "body.json").write_bytes(delivery.body if body is None else body)
    script = guide_snippet("javascript", 'require("standardwebhooks")') + (
        "\ntry {\n"
        '  verifyXkitWebhook(require("fs").readFileSync(process.env.BODY_FILE),'
        " JSON.parse(process.env.HEADERS), process.env.SECRET);\n"
        '  console.log("verified");\n'
        "} catch (error) { console.log(`NOT verified: ${error.message}`); }\n")
    env = {**os.environ, "BODY_FILE": str(tmp_path / "body.json"),
           "HEADERS": json.dumps(delivery.headers), "SECRET": secret}
    done = subprocess.run(["node", "-e", script], cwd=NODE_PACKAGE, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "verified"


@pytest.fixture
def node() -> None:
    if shutil.which("node") is None or not (NODE_PACKAGE / "node_modules").is_dir():
        pytest.skip("node or tests/standard_webhooks/node_modules (npm ci) is missing")


def test_a_real_delivery_verifies_with_the_python_and_npm_packages(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver, node: None,
        tmp_path: Path) -> None:
    webhook = subscribe(api, receiver.url)
    secret = webhook["standard_webhooks_secret"]
    assert secret.startswith("whsec_") and secret != webhook["signing_secret"]
    connect(api, xkit_server, platform, microsoft)
    delivery = receiver.wait_for_event("connection.enabled")
    assert delivery.headers["webhook-id"] == delivery.event["id"]
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]+=*", delivery.headers["webhook-signature"])

    verify = python_verifier()
    assert verify(delivery.body, delivery.headers, secret) == delivery.event
    tampered = delivery.body.replace(b"connection.enabled", b"connection.disabled")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify(tampered, delivery.headers, secret)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify(delivery.body, delivery.headers, WRONG_SECRET)

    assert node_verifies(delivery, secret, tmp_path)
    assert not node_verifies(delivery, secret, tmp_path, body=tampered)
    assert not node_verifies(delivery, WRONG_SECRET, tmp_path)
    # the same delivery still carries the Xkit-Signature existing receivers check
    Xkit.verify_webhook(delivery.body, delivery.headers["xkit-signature"],
                        webhook["signing_secret"])


def test_a_rotated_secret_and_a_retry_keep_standard_webhooks_verifiable(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    webhook = subscribe(api, receiver.url)
    rotated = api.post(f"/api/platform/webhooks/{webhook['id']}/rotate-secret").json()
    assert rotated["standard_webhooks_secret"] != webhook["standard_webhooks_secret"]
    receiver.answer(500, 200)
    connect(api, xkit_server, platform, microsoft)
    receiver.wait_for_event("connection.enabled")
    first, second = receiver.snapshot()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == first.event["id"]
    verify = python_verifier()
    for delivery in (first, second):
        assert verify(delivery.body, delivery.headers, rotated["standard_webhooks_secret"])
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            verify(delivery.body, delivery.headers, webhook["standard_webhooks_secret"])
