"""The receiver recipes in docs/webhooks.md work as written: the Node.js and shell snippets
accept a delivery xkit signed and refuse one signed with another secret."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from xkit.webhook_signature import sign_webhook

pytestmark = pytest.mark.database_independent

GUIDE = Path(__file__).parent.parent / "docs" / "webhooks.md"
BODY = b'{"created_at":"2026-12-01T09:30:12Z","event_type":"connection.enabled","id":"e1",' \
       b'"payload":{"connection":{"id":"c1","status":"connected"}}}'
SECRET = "whsec_recipe-secret"


def snippet(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert found, f"no {language} block in {GUIDE.name}"
    return str(found[0])


def run(language: str, tmp_path: Path, secret: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "body.json").write_bytes(BODY)
    env = {**os.environ, "XKIT_SIGNATURE": sign_webhook(SECRET, BODY, int(time.time())),
           "XKIT_WEBHOOK_SECRET": secret}
    if language == "js":
        script = snippet("js") + (
            '\nverifyXkitWebhook(require("fs").readFileSync("body.json"), '
            'process.env.XKIT_SIGNATURE, process.env.XKIT_WEBHOOK_SECRET);\n'
            'console.log("verified");\n')
        command = ["node", "-e", script]
    else:
        command = ["bash", "-c", snippet("sh")]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("language", ["js", "sh"])
def test_recipe_accepts_a_signed_delivery_and_refuses_another_secret(
        language: str, tmp_path: Path) -> None:
    tool = {"js": "node", "sh": "openssl"}[language]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    good = run(language, tmp_path, SECRET)
    assert good.returncode == 0 and good.stdout.strip() == "verified", good.stderr
    bad = run(language, tmp_path, "whsec_someone-else")
    assert "NOT verified" in bad.stdout or bad.returncode != 0
    assert bad.stdout.strip() != "verified"
