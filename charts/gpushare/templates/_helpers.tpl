{{/* Names, labels and the server config shared by every template. */}}

{{- define "gpushare.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release name when it already says gpushare ("gpushare" gives the same names as manifests/). */}}
{{- define "gpushare.fullname" -}}
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

{{- define "gpushare.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpushare.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Every object: the labels manifests/ puts on it, plus Helm's. */}}
{{- define "gpushare.labels" -}}
{{ include "gpushare.selectorLabels" . }}
app.kubernetes.io/part-of: gpushare
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "gpushare.serverSelectorLabels" -}}
{{ include "gpushare.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "gpushare.serviceAccountName" -}}
{{ include "gpushare.fullname" . }}
{{- end }}

{{- define "gpushare.tlsSecretName" -}}
{{ default (printf "%s-tls" (include "gpushare.fullname" .)) .Values.certificates.secretName }}
{{- end }}

{{- define "gpushare.leaseName" -}}
{{ default (printf "%s-repartition" (include "gpushare.fullname" .)) .Values.config.repartition.leaseName }}
{{- end }}

{{- define "gpushare.leaseNamespace" -}}
{{ default .Release.Namespace .Values.config.repartition.leaseNamespace }}
{{- end }}

{{/* The container port: the port of config.listen. */}}
{{- define "gpushare.containerPort" -}}
{{ regexReplaceAll "^.*:" .Values.config.listen "" }}
{{- end }}

{{/* The probe listener's port (config.probes.listen); empty when it is turned off. */}}
{{- define "gpushare.probePort" -}}
{{- with .Values.config.probes }}{{ with .listen }}{{ regexReplaceAll "^.*:" . "" }}{{ end }}{{ end }}
{{- end }}

{{/* The Service's DNS name, as kube-apiserver dials it and the certificate names it. */}}
{{- define "gpushare.serviceHost" -}}
{{ include "gpushare.fullname" . }}.{{ .Release.Namespace }}.svc
{{- end }}

{{/* config.yaml: the config value with what the chart decides (the mounted Secret, in-cluster). */}}
{{- define "gpushare.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $tls := default (dict) $config.tls }}
{{- $_ := set $tls "certFile" "/etc/gpushare/tls/tls.crt" }}
{{- $_ := set $tls "keyFile" "/etc/gpushare/tls/tls.key" }}
{{- if .Values.mtls.clientCAConfigMap }}
{{- $_ := set $tls "clientCAFile" "/etc/gpushare/client-ca/ca.crt" }}
{{- end }}
{{- $_ := set $config "tls" $tls }}
{{- $_ := set $config "cluster" (dict "inCluster" true) }}
{{- $repartition := $config.repartition }}
{{- $_ := set $repartition "leaseName" (include "gpushare.leaseName" .) }}
{{- $_ := set $repartition "leaseNamespace" (include "gpushare.leaseNamespace" .) }}
{{- if .Values.catalog }}
{{- $_ := set $config "catalog" "/etc/gpushare/catalog/catalog.yaml" }}
{{- end }}
{{- toYaml $config }}
{{- end }}
