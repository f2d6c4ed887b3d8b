{{/*
The chart's name, truncated to the 63 characters a label allows.
*/}}
{{- define "cellule.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: the release name, and the chart name unless the
release name already holds it. Suffixed names (-worker, -migrations…) stay under 63.
*/}}
{{- define "cellule.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cellule.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "cellule.labels" -}}
helm.sh/chart: {{ include "cellule.chart" . }}
{{ include "cellule.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cellule.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cellule.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component: call with (dict "root" $ "component" "web").
*/}}
{{- define "cellule.componentLabels" -}}
{{ include "cellule.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "cellule.componentSelectorLabels" -}}
{{ include "cellule.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "cellule.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cellule.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cellule.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Names of the chart-made Secrets.
*/}}
{{- define "cellule.secretName" -}}
{{- include "cellule.fullname" . }}
{{- end }}

{{- define "cellule.masterKeySecretName" -}}
{{- printf "%s-master-key" (include "cellule.fullname" .) }}
{{- end }}

{{- define "cellule.migrationsName" -}}
{{- printf "%s-migrations" (include "cellule.fullname" .) }}
{{- end }}

{{/*
The plain settings every process gets (the ConfigMap's data, and the migration Job's env,
since the Job runs before the ConfigMap exists on a first install).
*/}}
{{- define "cellule.plainSettings" -}}
CELLULE_LOG_FORMAT: {{ .Values.config.logFormat | quote }}
CELLULE_TRUSTED_PROXIES: {{ .Values.config.trustedProxies | quote }}
CELLULE_DEFAULT_LOCALE: {{ .Values.config.defaultLocale | quote }}
CELLULE_STAFF_IDLE_MINUTES: {{ .Values.config.staffIdleMinutes | quote }}
CELLULE_SWEEP_SECONDS: {{ .Values.config.sweepSeconds | quote }}
CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE: {{ .Values.config.receiptAttemptsPerMinute | quote }}
{{- with .Values.config.baseDomain }}
CELLULE_BASE_DOMAIN: {{ . | quote }}
{{- end }}
{{- with .Values.config.publicUrl }}
CELLULE_PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- with .Values.mail.server }}
MAIL_SERVER: {{ . | quote }}
{{- end }}
MAIL_PORT: {{ .Values.mail.port | quote }}
MAIL_USE_TLS: {{ ternary "on" "off" .Values.mail.useTLS | quote }}
{{- with .Values.mail.username }}
MAIL_USERNAME: {{ . | quote }}
{{- end }}
{{- with .Values.mail.from }}
MAIL_FROM: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
One env entry read from a Secret: from the operator's Secret when `existing` is set, else
from the chart-made Secret `chartSecret` under the variable's own name. Call with
(dict "name" VAR "existing" NAME "key" KEY "chartSecret" NAME "optional" BOOL).
*/}}
{{- define "cellule.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      {{- if .existing }}
      name: {{ .existing }}
      key: {{ .key }}
      {{- else }}
      name: {{ .chartSecret }}
      key: {{ .name }}
      {{- end }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
The secrets of the long-running processes (web, worker, scheduler). The migration Job has
its own list, in migration-job.yaml.
*/}}
{{- define "cellule.commonSecretEnv" -}}
{{- $s := .Values.secrets }}
{{- include "cellule.secretEnv" (dict "name" "SECRET_KEY" "existing" $s.existingSecret "key" $s.existingSecretKeys.secretKey "chartSecret" (include "cellule.secretName" .)) }}
{{ include "cellule.secretEnv" (dict "name" "CELLULE_MASTER_KEY" "existing" $s.existingSecret "key" $s.existingSecretKeys.masterKey "chartSecret" (include "cellule.masterKeySecretName" .)) }}
{{- if or $s.existingSecret $s.previousMasterKeys }}
{{ include "cellule.secretEnv" (dict "name" "CELLULE_PREVIOUS_MASTER_KEYS" "existing" $s.existingSecret "key" $s.existingSecretKeys.previousMasterKeys "chartSecret" (include "cellule.masterKeySecretName" .) "optional" true) }}
{{- end }}
{{ include "cellule.secretEnv" (dict "name" "DATABASE_URL" "existing" .Values.postgresql.existingSecret "key" .Values.postgresql.existingSecretKeys.url "chartSecret" (include "cellule.secretName" .)) }}
{{ include "cellule.secretEnv" (dict "name" "REDIS_URL" "existing" .Values.redis.existingSecret "key" .Values.redis.existingSecretKey "chartSecret" (include "cellule.secretName" .)) }}
{{- end }}

{{/*
Pod-template annotations that change whenever the settings or the chart-made secrets do,
so that `helm upgrade` rolls the pods. (A change inside an existingSecret does not: restart
the Deployments yourself, `kubectl rollout restart`.)
*/}}
{{- define "cellule.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/*
The /tmp emptyDir, the only writable place of a container.
*/}}
{{- define "cellule.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- end }}

{{- define "cellule.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
What every pod of the chart shares: its account (whose token is never mounted), the
restrictive security context, the pull secrets. Call with (dict "root" $) and, for another
account than the release's, "serviceAccountName".
*/}}
{{- define "cellule.podCommon" -}}
serviceAccountName: {{ .serviceAccountName | default (include "cellule.serviceAccountName" .root) }}
automountServiceAccountToken: false
{{- /* No CELLULE_PORT & co. injected for the Service named after the release. */}}
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Scheduling constraints of one component: call with the component's values.
*/}}
{{- define "cellule.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
What `required` says when a secret is given neither as a value nor as an existing Secret.
*/}}
{{- define "cellule.missing.secretKey" -}}
secrets.secretKey or secrets.existingSecret is required: SECRET_KEY signs sessions and CSRF tokens
{{- end }}

{{- define "cellule.missing.masterKey" -}}
secrets.masterKey or secrets.existingSecret is required: CELLULE_MASTER_KEY wraps every tenant's data keys; make one with `cellule keys generate` and back it up apart from the database (the chart never generates it)
{{- end }}

{{- define "cellule.missing.databaseUrl" -}}
postgresql.url or postgresql.existingSecret is required: DATABASE_URL, the connection of the application's role
{{- end }}

{{- define "cellule.missing.migrationUrl" -}}
postgresql.migrationUrl or postgresql.existingSecret is required: DATABASE_MIGRATION_URL, the connection of the tables' owner, runs the migrations
{{- end }}

{{- define "cellule.missing.redisUrl" -}}
redis.url or redis.existingSecret is required: REDIS_URL carries the jobs of the workers and the scheduler
{{- end }}
