package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func describe(t *testing.T, obj runtime.Object, events []Event) string {
	t.Helper()
	var b bytes.Buffer
	if err := Describe(&b, obj, events, now); err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return b.String()
}

func deploymentEvents() []Event {
	// Deliberately out of order: Describe lists them oldest first.
	return []Event{
		{Time: now.Add(-2 * time.Minute), Type: "deployment.scaled", Actor: "user:alice", Message: "Scaled up to 3 "},
		{Time: now.Add(-(3*time.Hour + 20*time.Minute)), Type: "deployment.created", Actor: "user:alice", Message: "Created deployment web"},
		{Time: now.Add(-30 * time.Second), Type: "pod.image-pull-failed", Actor: "node:node-1", Message: "Failed to pull image"},
	}
}

func TestDescribeDeployment(t *testing.T) {
	want := text(
		"Name:                   web",
		"Namespace:              default",
		"CreationTimestamp:      Wed, 01 May 2024 08:40:00 +0000",
		"Labels:                 app=web",
		"Annotations:            <none>",
		"Selector:               app=web",
		"Replicas:               3 desired | 3 updated | 3 total | 2 available | 1 unavailable",
		"StrategyType:           RollingUpdate",
		"MinReadySeconds:        0",
		"RollingUpdateStrategy:  25% max unavailable, 25% max surge",
		"Pod Template:",
		"  Labels:  app=web",
		"  Containers:",
		"   web:",
		"    Image:      nginx:1.25",
		"    Port:       80/TCP",
		"    Host Port:  0/TCP",
		"    Limits:",
		"      cpu:     500m",
		"      memory:  128Mi",
		"    Requests:",
		"      cpu:  100m",
		"    Environment:",
		"      MODE:  prod",
		"    Mounts:",
		"      /cache from cache (rw)",
		"   sidecar:",
		"    Image:      busybox",
		"    Port:       <none>",
		"    Host Port:  <none>",
		"    Command:",
		"      sh",
		"      -c",
		"    Args:",
		"      sleep 3600",
		"    Environment:   <none>",
		"    Mounts:        <none>",
		"  Volumes:         <none>",
		"  Node-Selectors:  <none>",
		"  Tolerations:     <none>",
		"Events:",
		"  Type     Reason           Age    From         Message",
		"  ----     ------           ----   ----         -------",
		"  Normal   Created          3h20m  user:alice   Created deployment web",
		"  Normal   Scaled           2m     user:alice   Scaled up to 3",
		"  Warning  ImagePullFailed  30s    node:node-1  Failed to pull image",
	)
	if got := describe(t, webDeployment(), deploymentEvents()); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func describedPod() *corev1.Pod {
	p := crashingPod("web-2")
	p.Labels = map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f5d"}
	p.Annotations = map[string]string{"wake.run/revision": "3", corev1.LastAppliedConfigAnnotation: "{}"}
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d4b9c8f5d", Controller: ptr(true)}}
	p.Status.StartTime = ptr(ago(5 * time.Minute))
	p.Status.HostIP = "192.168.1.11"
	p.Status.PodIPs, p.Status.PodIP = []corev1.PodIP{{IP: "10.244.1.7"}}, "10.244.1.7"
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	p.Spec.Volumes = []corev1.Volume{
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
	}
	p.Spec.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))}}
	p.Status.ContainerStatuses[0].ContainerID = "containerd://4f1c"
	p.Status.ContainerStatuses[0].ImageID = "docker.io/library/nginx@sha256:abc"
	return p
}

func TestDescribePod(t *testing.T) {
	want := text(
		"Name:         web-2",
		"Namespace:    default",
		"Node:         node-2/192.168.1.11",
		"Start Time:   Wed, 01 May 2024 11:55:00 +0000",
		"Labels:       app=web",
		"              pod-template-hash=7d4b9c8f5d",
		"Annotations:  wake.run/revision: 3",
		"Status:       Running",
		"IP:           10.244.1.7",
		"IPs:",
		"  IP:           10.244.1.7",
		"Controlled By:  ReplicaSet/web-7d4b9c8f5d",
		"Containers:",
		"  web:",
		"    Container ID:   containerd://4f1c",
		"    Image:          nginx:1.25",
		"    Image ID:       docker.io/library/nginx@sha256:abc",
		"    Port:           <none>",
		"    Host Port:      <none>",
		"    State:          Waiting",
		"      Reason:       CrashLoopBackOff",
		"    Last State:     Terminated",
		"      Reason:       Error",
		"      Exit Code:    1",
		"      Started:      Wed, 01 May 2024 11:57:00 +0000",
		"      Finished:     Wed, 01 May 2024 11:58:00 +0000",
		"    Ready:          False",
		"    Restart Count:  5",
		"    Environment:    <none>",
		"    Mounts:         <none>",
		"Conditions:",
		"  Type           Status",
		"  Ready          False ",
		"  PodScheduled   True ",
		"Volumes:",
		"  cache:",
		"    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)",
		"    Medium:     ",
		"    SizeLimit:  <unset>",
		"  cfg:",
		"    Type:        ConfigMap (a volume populated by a ConfigMap)",
		"    Name:        app-config",
		"    Optional:    false",
		"QoS Class:       BestEffort",
		"Node-Selectors:  <none>",
		"Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
		"Events:          <none>",
	)
	if got := describe(t, describedPod(), nil); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDescribeTerminatingPod(t *testing.T) {
	p := runningPod("web-1")
	ts := ago(20 * time.Second)
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &ts, ptr(int64(30))
	got := describe(t, p, nil)
	for _, line := range []string{"Status:                    Terminating (lasts 20s)\n", "Termination Grace Period:  30s\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("missing %q in:\n%s", line, got)
		}
	}
}

func TestDescribeSecretNeverShowsValues(t *testing.T) {
	_, secrets := testConfigAndSecrets()
	s := secrets[0].(*corev1.Secret)
	s.StringData = map[string]string{"api-token": "s3cr3t-t0ken"}
	events := []Event{{Time: now.Add(-time.Minute), Type: "secret.created", Actor: "user:alice", Message: "created"}}
	want := text(
		"Name:         db-creds",
		"Namespace:    default",
		"Labels:       <none>",
		"Annotations:  <none>",
		"",
		"Type:  Opaque",
		"",
		"Data",
		"====",
		"api-token:  12 bytes",
		"password:   7 bytes",
		"username:   5 bytes",
		"Events:",
		"  Type    Reason   Age   From        Message",
		"  ----    ------   ----  ----        -------",
		"  Normal  Created  60s   user:alice  created",
	)
	got := describe(t, s, events)
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, value := range []string{"hunter2", "admin", "s3cr3t-t0ken", "aHVudGVyMg=="} {
		if strings.Contains(got, value) {
			t.Errorf("secret value %q leaked:\n%s", value, got)
		}
	}
}

func TestDescribeConfigMap(t *testing.T) {
	configMaps, _ := testConfigAndSecrets()
	want := text(
		"Name:         app-config",
		"Namespace:    default",
		"Labels:       <none>",
		"Annotations:  <none>",
		"",
		"Data",
		"====",
		"a:",
		"----",
		"1",
		"",
		"b:",
		"----",
		"2",
		"",
		"",
		"BinaryData",
		"====",
		"logo.png: 2 bytes",
		"",
		"Events:  <none>",
	)
	if got := describe(t, configMaps[0], nil); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDescribeOtherKinds(t *testing.T) {
	u := widget()
	u.Object["spec"] = map[string]interface{}{"size": int64(3), "parts": []interface{}{"a", "b"}}
	u.Object["status"] = map[string]interface{}{}
	job := &batchv1.Job{ObjectMeta: objMeta("migrate", "default", time.Minute), Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(2))}}
	tests := []struct {
		name string
		obj  runtime.Object
		want []string // substrings, in order
	}{
		{"service", service("web", nil), []string{
			"Name:              web\n", "Selector:          app=web\n", "Type:              ClusterIP\n",
			"IP:                10.96.0.10\n", "Port:              <unset>  80/TCP\n", "TargetPort:        8080/TCP\n",
			"Endpoints:         <unknown>\n", "Events:            <none>\n",
		}},
		{"nodeport service", service("np", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080, TargetPort: intstr.FromString("http")}}
		}), []string{"Port:              http  80/TCP\n", "TargetPort:        http/TCP\n", "NodePort:          http  30080/TCP\n"}},
		{"namespace", testNamespaces()[2], []string{"Name:         old\n", "Status:       Terminating\n", "Events:       <none>\n"}},
		{"node", func() runtime.Object {
			n := testNodes()[1].(*corev1.Node)
			n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule}}
			return n
		}(), []string{"Roles:              worker\n", "Taints:             node.kubernetes.io/unschedulable:NoSchedule\n",
			"Unschedulable:      true\n", "Conditions:\n", "Addresses:\n  InternalIP:  192.168.1.10\n", "Kubelet Version:            v1.30.0\n"}},
		{"replicaset", webReplicaSet(), []string{"Selector:     app=web,pod-template-hash=7d4b9c8f5d\n", "Replicas:     3 current / 3 desired\n", "Pod Template:\n"}},
		{"ingress", ingress(), []string{"Ingress Class:    nginx\n", "tls terminates example.com\n", "  example.com  \n", "/   web:80\n"}},
		{"endpoints", testEndpoints()[0], []string{"Addresses:          10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4\n", "<unset>  8080  TCP\n"}},
		{"unstructured", u, []string{"Name:               gizmo\n", "API Version:        example.com/v1\n", "Kind:               Widget\n",
			"Spec:\n  parts:\n  - a\n  - b\n  size: 3\nEvents:  <none>\n"}},
		{"typed without a describer", job, []string{"Kind:               Job\n", "Spec:\n  backoffLimit: 2\n  template:\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(t, tt.obj, nil)
			rest := got
			for _, want := range tt.want {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("missing %q (in order) in:\n%s", want, got)
				}
				rest = rest[i+len(want):]
			}
			if strings.Contains(got, "Status:\n") && tt.name == "unstructured" {
				t.Errorf("empty status should be skipped:\n%s", got)
			}
		})
	}
}

func TestEventColumns(t *testing.T) {
	tests := []struct {
		eventType, severity, reason string
	}{
		{"deployment.created", "Normal", "Created"},
		{"pod.image-pull-failed", "Warning", "ImagePullFailed"},
		{"pod.scheduling.unschedulable", "Warning", "SchedulingUnschedulable"},
		{"deployment.rollout_rejected", "Warning", "RolloutRejected"},
		{"pod.crash-backoff", "Warning", "CrashBackoff"},
		{"pod.oom-killed", "Warning", "OomKilled"},
		{"pod.Failed", "Warning", "Failed"},
		{"pod.unhealthy", "Warning", "Unhealthy"},
		{"pod.killing", "Normal", "Killing"},
		{"pod.failed-post-start-hook", "Warning", "FailedPostStartHook"},
		{"pod.failed-pre-stop-hook", "Warning", "FailedPreStopHook"},
		{"scaled", "Normal", "Scaled"},
		{"", "Normal", ""},
	}
	for _, tt := range tests {
		if got := eventSeverity(tt.eventType); got != tt.severity {
			t.Errorf("eventSeverity(%q) = %q, want %q", tt.eventType, got, tt.severity)
		}
		if got := eventReason(tt.eventType); got != tt.reason {
			t.Errorf("eventReason(%q) = %q, want %q", tt.eventType, got, tt.reason)
		}
	}
}

func TestDescribeEventsSection(t *testing.T) {
	events := []Event{
		{Time: now.Add(-10 * time.Second), Type: "pod.killed", Actor: "system:kubelet", Message: "Stopping container web"},
		{Time: time.Time{}, Type: "pod.created", Actor: "user:alice", Message: "created"},
	}
	got := describe(t, testNamespaces()[0], events)
	want := text(
		"Name:         default",
		"Labels:       <none>",
		"Annotations:  <none>",
		"Status:       Active",
		"Events:",
		"  Type     Reason   Age        From            Message",
		"  ----     ------   ----       ----            -------",
		"  Normal   Created  <unknown>  user:alice      created",
		"  Warning  Killed   10s        system:kubelet  Stopping container web",
	)
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A repeated event shows its count and first time in Age, as kubectl does for
// an Event with count > 1.
func TestDescribeRepeatedEvent(t *testing.T) {
	events := []Event{
		{Time: now.Add(-3 * time.Second), Type: "pod.unhealthy", Actor: "system:node:n1",
			Message: "Readiness probe failed: HTTP probe failed with statuscode: 500", Count: 5, FirstTime: now.Add(-40 * time.Second)},
		{Time: now.Add(-50 * time.Second), Type: "pod.killing", Actor: "system:node:n1",
			Message: "Container web failed liveness probe, will be restarted", Count: 1, FirstTime: now.Add(-50 * time.Second)},
	}
	got := describe(t, testNamespaces()[0], events)
	want := text(
		"Name:         default",
		"Labels:       <none>",
		"Annotations:  <none>",
		"Status:       Active",
		"Events:",
		"  Type     Reason     Age               From            Message",
		"  ----     ------     ----              ----            -------",
		"  Normal   Killing    50s               system:node:n1  Container web failed liveness probe, will be restarted",
		"  Warning  Unhealthy  3s (x5 over 40s)  system:node:n1  Readiness probe failed: HTTP probe failed with statuscode: 500",
	)
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
