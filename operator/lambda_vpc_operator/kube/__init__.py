"""The operator's own calls to the Kubernetes API, beside those kopf makes for it.

kopf applies a handler's status patch only when the handler returns; a reconcile loop that runs
for minutes must report progress as it goes, so it writes .status itself through this package.
"""
