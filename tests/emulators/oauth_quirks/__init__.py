"""A generic, configurable OAuth 2.0 provider for testing provider templates' quirks.

One process answers for every built-in template's hosts (xkit reaches it through
``XKIT_PROVIDER_CONNECT_TO``); each registered app says how its provider behaves. See
``app.py`` for the profile and ``fixture.QuirkEmulator`` for running it from tests.
"""
