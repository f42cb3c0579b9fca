"""The embedded Kubernetes: an HTTPS API server and simulated controllers, no Docker needed.

A request's path: `server.py` (HTTP, TLS, authentication) -> `registry.py` (REST semantics:
create, patch, apply, delete, watch) -> `store.py` (objects, indexes, resourceVersions,
durable state). Per-kind knowledge lives in small pure modules: `schema.py` (the 1.37
schemas), `defaults.py` and `validation.py` (what the real API server fills in and refuses),
`patch.py` and `strategic.py` (patch math), `fieldmanager.py` (managedFields and server-side
apply), `tables.py` (what `kubectl get` prints), `protobuf.py` (bodies `kubectl create` sends).
"""
