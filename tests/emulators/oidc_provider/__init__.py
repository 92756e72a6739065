"""panva's ``oidc-provider`` (npm) as a real third-party authorization server for xkit's tests.

Unlike the emulators next to it this is not our code pretending to be a provider: ``server.js``
configures the library with strict refresh token rotation (a reused refresh token revokes the
whole grant), our own login and consent pages, and a JSON control API under ``/_control/``.
``fixture.OidcProvider`` installs its npm dependencies once and runs it; see
``docs/testing-oidc-provider.md``.
"""
