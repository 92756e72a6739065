"""HTTP pieces both edges share (``api`` for JSON, ``web`` for pages), so neither imports the
other: the runtime of a request, the error styles, and the route classes that carry each
rule — CORS, rate limits, the error style — with the routes that need it."""
