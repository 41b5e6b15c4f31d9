"""kopf glue: registration of the handlers and the operator's kopf settings. Nothing else lives here.

Each handler turns kopf's arguments into an ``AttachmentView`` and hands it to the reconciler.
"""
