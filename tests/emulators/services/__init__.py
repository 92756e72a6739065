"""Small emulators of the provider endpoints xkit's non-OAuth templates use: Trello's and
Stripe's "who am I" endpoints (API keys, HTTP Basic) and Google's token endpoint with a slice
of Calendar (service accounts). One HTTPS process serves all of them — their paths don't
collide — so a template's host setting pointed at it reaches the right one.

``fixture.ServicesEmulator`` runs it; ``/_emulator/...`` is its control API.
"""
