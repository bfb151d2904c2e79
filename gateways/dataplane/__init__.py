"""The data plane: the gateway process's request path.

A request passes the ASGI app (``app``), which finds the route its path names (``paths``,
``routes``) and runs the route's filter chain (``chain``, ``filters/``), compiled from the
deployment snapshot (``runtime``): key authentication, body, model allowlist, request
guardrails, rate limits; then the upstream attempt (``relay``, ``sse``, the provider's
``adapters``); then the response guardrails; and at the end the usage row (``call``) goes to
the writer. Nothing here touches the database on the request path.
"""
