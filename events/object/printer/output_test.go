package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func smallConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objMeta("app-config", "default", 5*time.Minute),
		Data:       map[string]string{"b": "2", "a": "1"},
	}
}

func TestStructuredOutput(t *testing.T) {
	tests := []struct {
		name   string
		output string
		objs   []runtime.Object
		want   string
	}{
		{"yaml single object prints as itself", "yaml", []runtime.Object{smallConfigMap()}, text(
			"apiVersion: v1",
			"data:",
			`  a: "1"`,
			`  b: "2"`,
			"kind: ConfigMap",
			"metadata:",
			`  creationTimestamp: "2024-05-01T11:55:00Z"`,
			"  name: app-config",
			"  namespace: default",
		)},
		{"json single object prints as itself, keys sorted, 4-space indent", "json", []runtime.Object{smallConfigMap()}, text(
			`{`,
			`    "apiVersion": "v1",`,
			`    "data": {`,
			`        "a": "1",`,
			`        "b": "2"`,
			`    },`,
			`    "kind": "ConfigMap",`,
			`    "metadata": {`,
			`        "creationTimestamp": "2024-05-01T11:55:00Z",`,
			`        "name": "app-config",`,
			`        "namespace": "default"`,
			`    }`,
			`}`,
		)},
		{"yaml several objects print as a List", "yaml", []runtime.Object{smallConfigMap(), testNamespaces()[1]}, text(
			"apiVersion: v1",
			"items:",
			"- apiVersion: v1",
			"  data:",
			`    a: "1"`,
			`    b: "2"`,
			"  kind: ConfigMap",
			"  metadata:",
			`    creationTimestamp: "2024-05-01T11:55:00Z"`,
			"    name: app-config",
			"    namespace: default",
			"- apiVersion: v1",
			"  kind: Namespace",
			"  metadata:",
			`    creationTimestamp: "2024-05-01T11:59:57Z"`,
			"    name: fresh",
			"  spec: {}",
			"  status: {}",
			"kind: List",
			"metadata:",
			`  resourceVersion: ""`,
		)},
		{"json empty list", "json", nil, text(
			`{`,
			`    "apiVersion": "v1",`,
			`    "items": [],`,
			`    "kind": "List",`,
			`    "metadata": {`,
			`        "resourceVersion": ""`,
			`    }`,
			`}`,
		)},
		{"yaml empty list", "yaml", []runtime.Object{}, text(
			"apiVersion: v1",
			"items: []",
			"kind: List",
			"metadata:",
			`  resourceVersion: ""`,
		)},
		{"json list keeps numbers exact", "json", []runtime.Object{
			&corev1.Service{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}},
			},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "no-typemeta"}},
		}, text(
			`{`,
			`    "apiVersion": "v1",`,
			`    "items": [`,
			`        {`,
			`            "apiVersion": "v1",`,
			`            "kind": "Service",`,
			`            "metadata": {`,
			`                "name": "web"`,
			`            },`,
			`            "spec": {`,
			`                "ports": [`,
			`                    {`,
			`                        "port": 8080,`,
			`                        "targetPort": 0`,
			`                    }`,
			`                ]`,
			`            },`,
			`            "status": {`,
			`                "loadBalancer": {}`,
			`            }`,
			`        },`,
			`        {`,
			`            "apiVersion": "v1",`,
			`            "kind": "Pod",`,
			`            "metadata": {`,
			`                "name": "no-typemeta"`,
			`            },`,
			`            "spec": {`,
			`                "containers": null`,
			`            },`,
			`            "status": {}`,
			`        }`,
			`    ],`,
			`    "kind": "List",`,
			`    "metadata": {`,
			`        "resourceVersion": ""`,
			`    }`,
			`}`,
		)},
		{"name", "name", []runtime.Object{
			webDeployment(), runningPod("web-1"), service("web", nil), ingress(), testNodes()[0], webReplicaSet(), widget(),
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "no-typemeta"}},
		}, text(
			"deployment.apps/web",
			"pod/web-1",
			"service/web",
			"ingress.networking.k8s.io/web",
			"node/cp-1",
			"replicaset.apps/web-7d4b9c8f5d",
			"widget.example.com/gizmo",
			"configmap/no-typemeta",
		)},
		{"name of nothing", "name", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := print(t, tt.objs, Options{Output: tt.output}); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestStructuredOutputDoesNotMutateInput(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	print(t, []runtime.Object{p}, Options{Output: "json"})
	if !p.GetObjectKind().GroupVersionKind().Empty() {
		t.Errorf("Print set TypeMeta on the caller's object: %v", p.GetObjectKind().GroupVersionKind())
	}
}

func TestSecretValuesOnlyInStructuredOutput(t *testing.T) {
	_, secrets := testConfigAndSecrets()
	for _, output := range []string{"", "wide", "name"} {
		got := print(t, secrets, Options{Output: output})
		for _, secret := range []string{"hunter2", "aHVudGVyMg=="} {
			if strings.Contains(got, secret) {
				t.Errorf("-o %q leaked a secret value:\n%s", output, got)
			}
		}
	}
}

func TestUnknownOutputFormat(t *testing.T) {
	var b bytes.Buffer
	err := Print(&b, []runtime.Object{runningPod("x")}, Options{Output: "jsonpath"})
	if err == nil || !strings.Contains(err.Error(), `"jsonpath"`) {
		t.Fatalf("want an error naming the format, got %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("wrote output on error: %q", b.String())
	}
}

func TestNameOutputNeedsKind(t *testing.T) {
	type notAKubeObject struct{ corev1.Pod }
	var b bytes.Buffer
	if err := Print(&b, []runtime.Object{&notAKubeObject{}}, Options{Output: "name"}); err == nil {
		t.Fatal("want an error for an object without a kind")
	}
}

func TestNoResourcesMessage(t *testing.T) {
	tests := []struct {
		namespace     string
		allNamespaces bool
		clusterScoped bool
		want          string
	}{
		{"default", false, false, "No resources found in default namespace."},
		{"team-a", false, false, "No resources found in team-a namespace."},
		{"default", true, false, "No resources found"},
		{"default", false, true, "No resources found"},
		{"", false, false, "No resources found"},
	}
	for _, tt := range tests {
		if got := NoResourcesMessage(tt.namespace, tt.allNamespaces, tt.clusterScoped); got != tt.want {
			t.Errorf("NoResourcesMessage(%q, %v, %v) = %q, want %q", tt.namespace, tt.allNamespaces, tt.clusterScoped, got, tt.want)
		}
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		created time.Time
		want    string
	}{
		{time.Time{}, "<unknown>"},
		{now, "0s"},
		{now.Add(-5 * time.Second), "5s"},
		{now.Add(-(3*time.Minute + 20*time.Second)), "3m20s"},
		{now.Add(-45 * time.Minute), "45m"},
		{now.Add(-(5*time.Hour + 7*time.Minute)), "5h7m"},
		{now.Add(-(53 * time.Hour)), "2d5h"},
		{now.Add(-(30 * 24 * time.Hour)), "30d"},
		{now.Add(-(3 * 365 * 24 * time.Hour)), "3y"},
		{now.Add(time.Hour), "<invalid>"},
	}
	for _, tt := range tests {
		if got := Age(tt.created, now); got != tt.want {
			t.Errorf("Age(now-%v) = %q, want %q", now.Sub(tt.created), got, tt.want)
		}
	}
	if got := Age(time.Now().Add(-90*time.Second), time.Time{}); got != "90s" {
		t.Errorf("Age with zero now = %q, want 90s", got)
	}
}
