"""The connect flow: from an end user's "Connect" to an active authorization, and what
the catalog and popup show on the way."""
