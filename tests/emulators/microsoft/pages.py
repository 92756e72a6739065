"""The HTML the emulator shows a browser: sign-in and consent, errors, and form_post.

Plain markup with stable ids so Playwright tests can drive it: ``#account-<user id>`` radios,
``#login`` and ``#password`` fields, ``button#accept`` and ``button#cancel``, ``#error-code``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from starlette.responses import HTMLResponse

from .state import App, AuthorizeRequest, User

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; color: #1b1b1b; }
h1 { font-size: 1.4rem; } fieldset { border: 1px solid #ccc; margin: 1rem 0; }
label { display: block; margin: .4rem 0; } input[type=email], input[type=password] { width: 100%; }
.error { color: #a80000; border: 1px solid #a80000; padding: .5rem; }
button { margin-right: .5rem; padding: .4rem 1.2rem; }
"""

PERMISSION_LABELS = {
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Maintain access to data you have given it access to",
    "User.Read": "Sign you in and read your profile",
    "Mail.Read": "Read your mail",
    "Mail.ReadBasic": "Read basic properties of your mail",
    "Mail.ReadWrite": "Read and write access to your mail",
    "Mail.Send": "Send mail as you",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def sign_in_page(
    request: AuthorizeRequest,
    app: App,
    accounts: Iterable[User],
    permissions: Iterable[str],
    *,
    error: str | None = None,
    selected: str | None = None,
) -> HTMLResponse:
    """One page for sign-in and consent: Microsoft shows two, the emulator needs only one."""
    account_items = []
    for user in accounts:
        checked = " checked" if user.id == selected else ""
        account_items.append(
            f"<label><input type='radio' name='account' id='account-{escape(user.id)}' "
            f"value='{escape(user.id)}'{checked}> {escape(user.display_name)} "
            f"&lt;{escape(user.user_principal_name)}&gt;</label>"
        )
    accounts_html = "".join(account_items) or "<p>No accounts are configured.</p>"
    permission_items = "".join(
        f"<li data-scope='{escape(p)}'>{escape(PERMISSION_LABELS.get(p, p))}</li>"
        for p in permissions
    )
    error_html = ""
    if error:
        code = error.split(":", 1)[0]
        error_html = f"<p class='error' id='error'><span id='error-code'>{escape(code)}</span>"
        error_html += f"{escape(error[len(code) :])}</p>"
    body = f"""
<h1>Sign in to {escape(app.display_name)}</h1>
{error_html}
<form method="post" action="/{escape(request.tenant_segment)}/login" id="sign-in">
  <input type="hidden" name="flow" value="{escape(request.id)}">
  <fieldset id="accounts"><legend>Pick an account</legend>{accounts_html}</fieldset>
  <label for="login">Or type your email, phone or Skype</label>
  <input type="email" id="login" name="login" value="{escape(request.login_hint or "")}">
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="off">
  <h2>Permissions requested</h2>
  <p>{escape(app.display_name)} would like to:</p>
  <ul id="permissions">{permission_items}</ul>
  <button type="submit" id="accept" name="action" value="accept">Accept</button>
  <button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
</form>"""
    return _page("Sign in to your account", body)


def error_page(description: str, status: int = 400) -> HTMLResponse:
    """Errors Microsoft shows on its own page instead of redirecting (unknown tenant or app,
    redirect URI mismatch): sending them to an unverified redirect URI would be unsafe."""
    code = description.split(":", 1)[0]
    body = (
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f"<p class='error' id='error'><span id='error-code'>{escape(code)}</span>"
        f"{escape(description[len(code) :])}</p>"
    )
    return _page("Sign in error", body, status)


def form_post_page(redirect_uri: str, fields: Mapping[str, str]) -> HTMLResponse:
    """``response_mode=form_post``: a self-submitting form that POSTs the result."""
    inputs = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )
    body = (
        f"<form method='post' action='{escape(redirect_uri)}' id='response'>{inputs}"
        "<noscript><button type='submit'>Continue</button></noscript></form>"
        "<script>document.getElementById('response').submit()</script>"
    )
    return _page("Working...", body)
