"""An emulator of the Microsoft identity platform (v2.0 endpoints) and Microsoft Graph mail.

xkit's Outlook connector reaches it through its ``login_host`` and ``graph_host`` settings, the
same settings that point at Microsoft's national clouds, so the code under test is the real one.
See ``docs/testing-emulators.md`` for the control API; ``fixture.MicrosoftEmulator`` runs it.
"""
