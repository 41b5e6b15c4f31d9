"""Data shared by every layer: the custom resource's spec and status, and what AWS says about a function.

Nothing here does I/O. The CRD schema in crds/ is generated from these models (see ``crds.py``),
so the models are the single source of truth for the API.
"""
