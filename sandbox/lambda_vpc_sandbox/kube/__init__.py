"""An in-memory Kubernetes API server over real HTTP, for tests, benchmarks and `make sandbox`.

kopf, the `kubernetes` client and kubectl talk to it through a kubeconfig as to a real cluster.
It is built on kmock (which serves it) but routes every request itself in O(1) -- see `server` for
why, and for what is not emulated. Modules, from the outside in:

- `running`: `EmulatorThread` (own event-loop thread, kubeconfig) and the CLI `main`;
- `server`: `KubeEmulator`, the kmock handler: HTTP in, Status/objects/Tables out; the RBAC audit;
- `routes`, `discovery`, `openapi`, `rendering`, `watching`: URL parsing, discovery documents, the
  minimal OpenAPI kubectl needs, response shapes (objects, Tables), watch streams;
- `cluster`: the API semantics (metadata, conflicts, status subresource, finalizers, CRDs,
  namespaces); `objects`, `patching`, `selectors`: its pure helpers; `applying` and `fieldsets`:
  server-side apply and managedFields; `strategic`: strategic merge patches of built-ins;
  `store`: objects, the resourceVersion counter and watch history; `resources`: the registry of
  served resources; `errors`: Status errors;
- `faults` and `control`: injected faults (dropped, stalled and expired watches, 409, 429, 5xx,
  latency) and the ``/_kube/`` control API with its client `KubeControl`;
- `admission`: validating webhooks, called by `server`; `protobuf`: the protobuf request bodies
  Go clients (helm, kubectl) send;
- `schemas` (structural pruning, defaulting, validation of custom resources), `tables` and
  `jsonpaths` (printer columns) are written separately and used by `cluster` and `rendering`.
"""

from lambda_vpc_sandbox.kube.control import KubeControl
from lambda_vpc_sandbox.kube.running import EmulatorThread, kubeconfig, main
from lambda_vpc_sandbox.kube.server import AuditKey, KubeEmulator

__all__ = ["AuditKey", "EmulatorThread", "KubeControl", "KubeEmulator", "kubeconfig", "main"]
