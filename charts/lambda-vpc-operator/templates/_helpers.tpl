{{/* Names, labels and the few decisions several templates share. */}}

{{- define "lambda-vpc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: the release name, plus the chart name unless it is in it. */}}
{{- define "lambda-vpc-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lambda-vpc-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lambda-vpc-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lambda-vpc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lambda-vpc-operator.labels" -}}
helm.sh/chart: {{ include "lambda-vpc-operator.chart" . }}
{{ include "lambda-vpc-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lambda-vpc-operator
{{- end }}

{{- define "lambda-vpc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lambda-vpc-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lambda-vpc-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
kopf peering: on with more than one replica, off otherwise ("true" or "").
kopf has no leader election; peering makes every pod but the highest-priority one stand by.
*/}}
{{- define "lambda-vpc-operator.peering" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
watchNamespaces holds a kopf pattern (a glob, a negation or a comma list), not only namespace names:
"true" or "". A pattern's namespaces are not known when the chart renders (and may come and go), so
its RBAC is a ClusterRole, and kopf peering (a KopfPeering in each exact namespace) is refused.
*/}}
{{- define "lambda-vpc-operator.namespacePatterns" -}}
{{- range .Values.watchNamespaces }}{{ if regexMatch "[*?!,[]" . }}true{{ end }}{{ end }}
{{- end }}

{{/* The name of kopf's peering object; the operator's default (models/settings.py). */}}
{{- define "lambda-vpc-operator.peeringName" -}}
lambda-vpc-operator
{{- end }}

{{- define "lambda-vpc-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "lambda-vpc-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lambda-vpc-operator.webhookCertificateName" -}}
{{- printf "%s-webhook" (include "lambda-vpc-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding the webhook's serving certificate: cert-manager's, or the user's. */}}
{{- define "lambda-vpc-operator.webhookSecretName" -}}
{{- if .Values.webhook.certManager.enabled }}
{{- printf "%s-webhook-tls" (include "lambda-vpc-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- required "webhook.tls.secretName is required when webhook.enabled and not webhook.certManager.enabled" .Values.webhook.tls.secretName }}
{{- end }}
{{- end }}

{{/* Where the pod mounts the webhook certificate (tls.crt, tls.key). */}}
{{- define "lambda-vpc-operator.webhookCertDir" -}}
/etc/lambda-vpc-operator/webhook-tls
{{- end }}

{{/*
The rules the operator needs on the resources it watches, in one namespace (a Role) or in all of
them (a ClusterRole). Exactly the requests it makes; tests/chart/test_rbac_matches_operator.py
records them against the Kubernetes emulator and fails on any request not allowed here and on any
rule no request used.
*/}}
{{- define "lambda-vpc-operator.watchedRules" -}}
# kopf: list and watch the attachments; patch them for its finalizer and its annotations.
- apiGroups: ["lambdavpc.dev"]
  resources: ["lambdavpcattachments"]
  verbs: ["list", "watch", "patch"]
# The operator's status writer (kube/statuses.py): merge patches of .status.
- apiGroups: ["lambdavpc.dev"]
  resources: ["lambdavpcattachments/status"]
  verbs: ["patch"]
# kopf.event(): core v1 Events about the attachments.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/*
kopf peering (replicas > 1): list and watch the peering objects, write keep-alives into ours (and
only ours: other kopf operators may share the CRD), and create ours at startup if it is missing.
Call with (dict "resource" "clusterkopfpeerings" "name" NAME).
*/}}
{{- define "lambda-vpc-operator.peeringRules" -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch", "create"]
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  resourceNames: [{{ .name | quote }}]
  verbs: ["patch"]
{{- end }}
