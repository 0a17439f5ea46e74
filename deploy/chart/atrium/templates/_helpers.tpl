{{/*
The release's name for its objects, cluster-scoped ones included: `atrium`
for a release named atrium. Kept short enough for the longest suffix.
*/}}
{{- define "atrium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "atrium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atrium.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: atrium
{{- end -}}

{{/* The portal's pods. */}}
{{- define "atrium.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: portal
{{- end -}}

{{- define "atrium.postgresqlSelectorLabels" -}}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: postgresql
{{- end -}}

{{- define "atrium.serviceAccountName" -}}
{{- include "atrium.fullname" . }}-portal
{{- end -}}

{{/* A persona's ClusterRole: `atrium-data-scientist` for the release atrium. */}}
{{- define "atrium.persona" -}}
{{- include "atrium.fullname" .root }}-{{ .persona }}
{{- end -}}

{{/* The four personas a team admin (and a platform admin) may grant in a team. */}}
{{- define "atrium.teamPersonas" -}}
{{- $root := . -}}
{{- $names := list -}}
{{- range list "data-scientist" "data-engineer" "ml-engineer" "team-admin" -}}
{{- $names = append $names (include "atrium.persona" (dict "root" $root "persona" .)) -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Platform admin groups as Kubernetes knows them (with the provider's prefix), as JSON. */}}
{{- define "atrium.platformAdminGroups" -}}
{{- $prefix := .Values.kubernetes.prefix -}}
{{- $groups := list -}}
{{- range .Values.identity.platformAdminGroups -}}
{{- $groups = append $groups (printf "%s%s" $prefix .) -}}
{{- end -}}
{{- toJson $groups -}}
{{- end -}}

{{/* RBAC subjects for the platform admin groups. */}}
{{- define "atrium.platformAdminSubjects" -}}
{{- range (include "atrium.platformAdminGroups" . | fromJsonArray) }}
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: {{ . | quote }}}
{{- end -}}
{{- end -}}

{{/* The portal's own identities: its ServiceAccount and any extra subjects. */}}
{{- define "atrium.portalSubjects" -}}
- {kind: ServiceAccount, name: {{ include "atrium.serviceAccountName" . }}, namespace: {{ .Release.Namespace }}}
{{- with .Values.rbac.extraPortalSubjects }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/* The database URL's Secret and key. */}}
{{- define "atrium.databaseSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "atrium.fullname" . }}-postgresql
{{- else -}}
{{- required "database.existingSecret: name the Secret holding the PostgreSQL URL, or set postgresql.enabled" .Values.database.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "atrium.databaseKey" -}}
{{- if .Values.postgresql.enabled -}}url{{- else -}}{{ .Values.database.key }}{{- end -}}
{{- end -}}

{{/* The host of a URL or origin pattern, without scheme, port or path. */}}
{{- define "atrium.host" -}}
{{- regexReplaceAll "^[a-z]+://([^/:]+).*$" . "${1}" -}}
{{- end -}}

{{/* The wildcard host serving every notebook: `*.notebooks.example.net` for
     `https://{team}--{name}.notebooks.example.net`. A wildcard covers one DNS
     label, so both placeholders must sit in the first. */}}
{{- define "atrium.notebooksHost" -}}
{{- $host := include "atrium.host" .Values.notebooks.origin -}}
{{- $parts := splitn "." 2 $host -}}
{{- if not (and (contains "{team}" $parts._0) (contains "{name}" $parts._0) $parts._1) -}}
{{- fail (printf "notebooks.origin: a wildcard host covers one DNS label, so {team} and {name} must both be in the first label of %q (e.g. {team}--{name}.notebooks.example.net)" $host) -}}
{{- end -}}
{{- printf "*.%s" $parts._1 -}}
{{- end -}}

