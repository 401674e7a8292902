package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func describeRelated(t *testing.T, obj runtime.Object, rel Related) string {
	t.Helper()
	var b bytes.Buffer
	if err := DescribeRelated(&b, obj, rel, nil, now); err != nil {
		t.Fatalf("DescribeRelated: %v", err)
	}
	return b.String()
}

// ownedReplicaSet is a ReplicaSet of dep named name, created age ago, with
// dep's template but for the image, spec.replicas and status.replicas.
func ownedReplicaSet(dep *appsv1.Deployment, name, image string, age time.Duration, spec, status int32) *appsv1.ReplicaSet {
	tpl := *dep.Spec.Template.DeepCopy()
	tpl.Labels = map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: strings.TrimPrefix(name, "web-")}
	if image != "" {
		tpl.Spec.Containers[0].Image = image
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: dep.Namespace, CreationTimestamp: ago(age),
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: ptr(true)}}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(spec), Template: tpl},
		Status: appsv1.ReplicaSetStatus{Replicas: status},
	}
}

func TestDescribeDeploymentNamesItsReplicaSets(t *testing.T) {
	dep := webDeployment()
	dep.UID = types.UID("dep-uid")
	dep.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}
	current := ownedReplicaSet(dep, "web-577885b4dc", "", time.Hour, 3, 3)
	older := ownedReplicaSet(dep, "web-6b7c9d8f4", "nginx:1.24", 2*time.Hour, 1, 1)
	oldest := ownedReplicaSet(dep, "web-5f6d7c8b9", "nginx:1.23", 3*time.Hour, 0, 0)
	stranger := ownedReplicaSet(dep, "web-1234567", "", 4*time.Hour, 2, 2)
	stranger.OwnerReferences[0].UID = "another-deployment"

	tests := []struct {
		name string
		rss  []*appsv1.ReplicaSet
		want []string // the description's last lines
	}{
		{"rolled out", []*appsv1.ReplicaSet{current, stranger}, []string{
			"OldReplicaSets:  <none>",
			"NewReplicaSet:   web-577885b4dc (3/3 replicas created)",
		}},
		{"rolling", []*appsv1.ReplicaSet{current, older, oldest}, []string{
			"OldReplicaSets:  web-5f6d7c8b9 (0/0 replicas created), web-6b7c9d8f4 (1/1 replicas created)",
			"NewReplicaSet:   web-577885b4dc (3/3 replicas created)",
		}},
		{"new template not created yet", []*appsv1.ReplicaSet{older}, []string{
			"OldReplicaSets:  web-6b7c9d8f4 (1/1 replicas created)",
			"NewReplicaSet:   <none>",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeRelated(t, dep, Related{ReplicaSets: tt.rss})
			want := "  Available      True    MinimumReplicasAvailable\n" + strings.Join(tt.want, "\n") + "\nEvents:          <none>\n"
			if !strings.HasSuffix(got, want) {
				t.Errorf("description ends:\n%s\nwant it to end:\n%s", tail(got, 4), want)
			}
		})
	}
	if got := describeRelated(t, dep, Related{ReplicaSets: []*appsv1.ReplicaSet{stranger}}); strings.Contains(got, "ReplicaSet") {
		t.Errorf("a deployment controlling no ReplicaSet shows:\n%s\nwant no ReplicaSet lines, as kubectl", tail(got, 4))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func TestDescribeNodeShowsItsPodsAndAllocatedResources(t *testing.T) {
	n := node("node-1", corev1.ConditionTrue, nil)
	n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourcePods: resource.MustParse("110"), "example.com/gpu": resource.MustParse("2")}
	pod := func(ns, name, node string, phase corev1.PodPhase, req, lim corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: ago(5 * time.Minute)},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c",
				Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	pods := []*corev1.Pod{
		pod("default", "web-1", "node-1", corev1.PodRunning, rl("cpu", "250m", "memory", "64Mi"), rl("cpu", "500m", "memory", "128Mi", "example.com/gpu", "1")),
		pod("default", "done", "node-1", corev1.PodSucceeded, rl("cpu", "1"), nil),
		pod("default", "elsewhere", "node-2", corev1.PodRunning, rl("cpu", "1"), nil),
		pod("apps", "best-effort", "node-1", corev1.PodPending, nil, nil),
	}
	got := describeRelated(t, n, Related{Pods: pods})
	want := strings.Join([]string{
		"Non-terminated Pods:          (2 in total)",
		"  Namespace                   Name           CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age",
		"  ---------                   ----           ------------  ----------  ---------------  -------------  ---",
		"  apps                        best-effort    0 (0%)        0 (0%)      0 (0%)           0 (0%)         5m",
		"  default                     web-1          250m (12%)    500m (25%)  64Mi (1%)        128Mi (3%)     5m",
		"Allocated resources:",
		"  (Total limits may be over 100 percent, i.e., overcommitted.)",
		"  Resource           Requests    Limits",
		"  --------           --------    ------",
		"  cpu                250m (12%)  500m (25%)",
		"  memory             64Mi (1%)   128Mi (3%)",
		"  ephemeral-storage  0 (0%)      0 (0%)",
		"  example.com/gpu    1           1",
		"Events:              <none>",
	}, "\n") + "\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("description:\n%s\nwant it to end:\n%s", got, want)
	}
	if got := describeRelated(t, n, Related{}); strings.Contains(got, "Non-terminated Pods") {
		t.Errorf("without the node's pods the description claims to know them:\n%s", got)
	}
}

func TestDescribeIngressListsBackendEndpoints(t *testing.T) {
	ing := ingress()
	ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "gone", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: "api.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{
			{Path: "/v1", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "api", Port: networkingv1.ServiceBackendPort{Name: "http"}}}},
			{Path: "/none", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "empty", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
		}}}})
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "default", Name: name} }
	rel := Related{
		Endpoints: []*corev1.Endpoints{
			{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 8080}}}}},
			{ObjectMeta: meta("api"), Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"),
				Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "admin", Port: 9000}}}}},
			{ObjectMeta: meta("empty")},
		},
		Services: []*corev1.Service{
			{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
			{ObjectMeta: meta("api"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "admin", Port: 9000}}}},
			{ObjectMeta: meta("empty"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}},
		},
	}
	out := describeRelated(t, ing, rel)
	for _, want := range []string{
		"Default backend:  gone:80 (<error: endpoints \"gone\" not found>)\n",
		"/   web:80 (10.0.0.1:8080,10.0.0.2:8080)\n",
		"/v1     api:http (10.0.1.1:8080,10.0.1.2:8080,10.0.1.3:8080 + 1 more...)\n",
		"/none   empty:80 (<none>)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}
