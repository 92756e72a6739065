"""An emulator of Google's OAuth 2.0 user consent and the Gmail API v1, for xkit's mail tests.

Built from Google's documentation (developers.google.com/workspace/gmail/api/reference/rest and
developers.google.com/identity/protocols/oauth2/web-server); see each module's references.
"""
