package object

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// defaulted decodes a YAML manifest of kind into its type and applies Default.
func defaulted(t *testing.T, kind, manifest string) Object {
	t.Helper()
	k, ok := ByKind(kind)
	if !ok {
		t.Fatalf("no kind %s", kind)
	}
	obj := k.New()
	if err := yaml.UnmarshalStrict([]byte(manifest), obj); err != nil {
		t.Fatal(err)
	}
	Default(obj)
	again := obj.DeepCopyObject().(Object)
	Default(again)
	if !equality.Semantic.DeepEqual(obj, again) {
		t.Errorf("Default is not idempotent")
	}
	return obj
}

// assertJSON compares the JSON of got with want, both normalised.
func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gotJSON, &g); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if !equality.Semantic.DeepEqual(g, w) {
		gy, _ := yaml.Marshal(g)
		wy, _ := yaml.Marshal(w)
		t.Errorf("got:\n%s\nwant:\n%s", gy, wy)
	}
}

func TestDefaultPod(t *testing.T) {
	pod := defaulted(t, "Pod", `
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}]
    env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
    resources: {limits: {cpu: 500m}}
    livenessProbe: {httpGet: {port: 80}}
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 5}
    lifecycle: {preStop: {httpGet: {port: 80, path: /quit}}}
  volumes:
  - name: scratch
  - name: config
    configMap: {name: cfg}
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
  - name: info
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - name: token
    projected: {sources: [{serviceAccountToken: {path: token}}]}
  - name: host
    hostPath: {path: /var/log}
`).(*corev1.Pod)
	assertJSON(t, pod.Spec, `
dnsPolicy: ClusterFirst
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
terminationGracePeriodSeconds: 30
enableServiceLinks: true
containers:
- name: web
  image: nginx
  imagePullPolicy: Always
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
  ports: [{containerPort: 80, protocol: TCP}]
  env: [{name: NODE, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}}]
  resources: {limits: {cpu: 500m}, requests: {cpu: 500m}}
  livenessProbe: {httpGet: {port: 80, path: /, scheme: HTTP}, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3}
  readinessProbe: {tcpSocket: {port: 80}, timeoutSeconds: 1, periodSeconds: 5, successThreshold: 1, failureThreshold: 3}
  lifecycle: {preStop: {httpGet: {port: 80, path: /quit, scheme: HTTP}}}
volumes:
- {name: scratch, emptyDir: {}}
- {name: config, configMap: {name: cfg, defaultMode: 420}}
- {name: creds, secret: {secretName: creds, defaultMode: 256}}
- {name: info, downwardAPI: {defaultMode: 420, items: [{path: labels, fieldRef: {apiVersion: v1, fieldPath: metadata.labels}}]}}
- {name: token, projected: {defaultMode: 420, sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]}}
- {name: host, hostPath: {path: /var/log, type: ""}}
`)
}

func TestDefaultHostNetworkPorts(t *testing.T) {
	pod := defaulted(t, "Pod", `
spec:
  hostNetwork: true
  containers: [{name: a, image: a, ports: [{containerPort: 53, protocol: UDP}, {containerPort: 80, hostPort: 8080}]}]
`).(*corev1.Pod)
	assertJSON(t, pod.Spec.Containers[0].Ports, `[{containerPort: 53, hostPort: 53, protocol: UDP}, {containerPort: 80, hostPort: 8080, protocol: TCP}]`)
}

func TestDefaultImagePullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.27", corev1.PullIfNotPresent},
		{"registry.example.com:5000/team/app", corev1.PullAlways},
		{"registry.example.com:5000/team/app:v2", corev1.PullIfNotPresent},
		{"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullIfNotPresent},
		{"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullAlways},
	}
	for _, tt := range tests {
		if got := pullPolicyFor(tt.image); got != tt.want {
			t.Errorf("pullPolicyFor(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestDefaultKeepsDeclaredValues(t *testing.T) {
	pod := defaulted(t, "Pod", `
spec:
  restartPolicy: Never
  dnsPolicy: Default
  terminationGracePeriodSeconds: 5
  enableServiceLinks: false
  containers: [{name: a, image: "a:1", imagePullPolicy: Always, resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}}]
`).(*corev1.Pod)
	s := pod.Spec
	if s.RestartPolicy != corev1.RestartPolicyNever || s.DNSPolicy != corev1.DNSDefault || *s.TerminationGracePeriodSeconds != 5 ||
		*s.EnableServiceLinks || s.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("declared values were overwritten: %+v", s)
	}
	if got := s.Containers[0].Resources.Requests.Cpu().String(); got != "100m" {
		t.Errorf("requests.cpu = %s, want the declared 100m", got)
	}
}

func TestDefaultDeployment(t *testing.T) {
	d := defaulted(t, "Deployment", `
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", resources: {limits: {cpu: "1"}}}]}
`).(*appsv1.Deployment)
	assertJSON(t, d.Spec, `
replicas: 1
revisionHistoryLimit: 10
progressDeadlineSeconds: 600
strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 25%, maxSurge: 25%}}
selector: {matchLabels: {app: web}}
template:
  metadata: {labels: {app: web}}
  spec:
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
    containers:
    - {name: web, image: "nginx:1.27", imagePullPolicy: IfNotPresent, terminationMessagePath: /dev/termination-log, terminationMessagePolicy: File, resources: {limits: {cpu: "1"}}}
`)
}

func TestDefaultDeploymentStrategy(t *testing.T) {
	tests := []struct{ strategy, want string }{
		{`{type: Recreate}`, `{type: Recreate}`},
		{`{rollingUpdate: {maxSurge: 1}}`, `{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}}`},
		{`{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0}}`, `{type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}`},
	}
	for _, tt := range tests {
		d := defaulted(t, "Deployment", "spec: {strategy: "+tt.strategy+"}").(*appsv1.Deployment)
		assertJSON(t, d.Spec.Strategy, tt.want)
	}
}

func TestDefaultReplicaSet(t *testing.T) {
	rs := defaulted(t, "ReplicaSet", `spec: {template: {spec: {containers: [{name: a, image: a}]}}}`).(*appsv1.ReplicaSet)
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("replicas %d, restartPolicy %q", *rs.Spec.Replicas, rs.Spec.Template.Spec.RestartPolicy)
	}
	if rs.Spec.Template.Spec.EnableServiceLinks != nil {
		t.Errorf("enableServiceLinks is a Pod default, not a template default")
	}
}

func TestDefaultService(t *testing.T) {
	tests := []struct{ name, spec, want string }{{
		name: "ClusterIP",
		spec: `{selector: {app: web}, ports: [{port: 80}, {name: dns, port: 53, protocol: UDP, targetPort: dns}]}`,
		want: `{type: ClusterIP, sessionAffinity: None, internalTrafficPolicy: Cluster, selector: {app: web},
			ports: [{port: 80, protocol: TCP, targetPort: 80}, {name: dns, port: 53, protocol: UDP, targetPort: dns}]}`,
	}, {
		name: "NodePort",
		spec: `{type: NodePort, ports: [{port: 80, targetPort: 8080}]}`,
		want: `{type: NodePort, sessionAffinity: None, internalTrafficPolicy: Cluster, externalTrafficPolicy: Cluster,
			ports: [{port: 80, protocol: TCP, targetPort: 8080}]}`,
	}, {
		name: "LoadBalancer",
		spec: `{type: LoadBalancer, ports: [{port: 443}], externalTrafficPolicy: Local}`,
		want: `{type: LoadBalancer, sessionAffinity: None, internalTrafficPolicy: Cluster, externalTrafficPolicy: Local,
			allocateLoadBalancerNodePorts: true, ports: [{port: 443, protocol: TCP, targetPort: 443}]}`,
	}, {
		name: "ExternalName",
		spec: `{type: ExternalName, externalName: db.example.com}`,
		want: `{type: ExternalName, externalName: db.example.com, sessionAffinity: None}`,
	}, {
		name: "ClientIP affinity",
		spec: `{sessionAffinity: ClientIP, ports: [{port: 80}]}`,
		want: `{type: ClusterIP, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 10800}},
			internalTrafficPolicy: Cluster, ports: [{port: 80, protocol: TCP, targetPort: 80}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertJSON(t, defaulted(t, "Service", "spec: "+tt.spec).(*corev1.Service).Spec, tt.want)
		})
	}
}

func TestDefaultSecret(t *testing.T) {
	s := defaulted(t, "Secret", `{data: {user: YWRtaW4=, pass: b2xk}, stringData: {pass: new}}`).(*corev1.Secret)
	if s.Type != corev1.SecretTypeOpaque || s.StringData != nil {
		t.Errorf("type %q, stringData %q: want Opaque and stringData merged away", s.Type, s.StringData)
	}
	assertJSON(t, s.Data, `{user: YWRtaW4=, pass: bmV3}`)
}

func TestDefaultNamespaceAndEndpoints(t *testing.T) {
	ns := defaulted(t, "Namespace", `{metadata: {name: dev, labels: {team: a}}}`).(*corev1.Namespace)
	assertJSON(t, ns.Labels, `{team: a, kubernetes.io/metadata.name: dev}`)
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("spec.finalizers = %q, want none", ns.Spec.Finalizers)
	}
	ep := defaulted(t, "Endpoints", `{subsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}]}]}`).(*corev1.Endpoints)
	assertJSON(t, ep.Subsets[0].Ports, `[{port: 80, protocol: TCP}]`)
}
