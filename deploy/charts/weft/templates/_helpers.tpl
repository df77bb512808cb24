{{/* Labels of every object: the same as deploy/base's (kubectl apply -k), plus Helm's. */}}
{{- define "weft.labels" -}}
app.kubernetes.io/part-of: weft
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Labels of one component: weft.component (dict "root" . "name" "weft-agent" "component" "agent"). */}}
{{- define "weft.component" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
{{ include "weft.labels" .root }}
{{- end }}

{{- define "weft.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "weft.caAddress" -}}
{{ .Values.caAddress | default (printf "weft-ca.%s.svc:15012" .Release.Namespace) }}
{{- end }}
