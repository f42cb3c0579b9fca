"""How the lab talks to Kubernetes: one client for every cluster, and the embedded one.

`lab.cluster.sim` is the embedded Kubernetes (a real HTTPS API server with simulated
controllers). Nothing above this package reaches the simulator except over HTTP.
"""
