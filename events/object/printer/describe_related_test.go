package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
