"""Fresh access tokens for a developer's backend, and the calls xkit makes with them: the
token fetch, exactly-once refresh, upkeep by the worker, the proxy."""
