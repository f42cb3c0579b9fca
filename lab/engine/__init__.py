"""The GitOps engine: from a Git revision to a cluster that matches it, continuously.

It knows Git and Kubernetes objects, not which cluster it talks to: every cluster call goes
through `lab.cluster.client.ClusterClient`. The path of one commit:

    source.py    fetch the revision from the remote (and later verify its signature)
    render.py    the desired objects: plain YAML folders or kustomize
    validate.py  schema, names, duplicates, namespaces: all or nothing
    diff.py      desired vs live, normalised, with who changed what (pure)
    health.py    health per kind, app health = the worst (pure)
    sync.py      plan (waves, kind order, prune set), dry-run every object, then apply
    reconciler.py  the loop: triggers -> compare -> auto-sync / self-heal -> history
    history.py   every sync, self-heal included
    signatures.py  commit signatures (SSH) checked against the trusted personas
    policy.py    manifest rules (warn or enforce) before anything is applied
    gitserver.py the Git server's hooks: protected paths, immutable history, webhook
    apiaudit.py  the API server's audit log: who made a hand change
    audit.py     the lab's hash-chained, append-only audit trail; outcomes.py its figures

`model.py` holds the words they share: statuses, resource keys, manifests, errors.
"""
