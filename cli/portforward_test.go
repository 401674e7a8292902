package cli

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		args []string
		want []portSpec
		err  string
	}{
		{[]string{"8080"}, []portSpec{{8080, "8080"}}, ""},
		{[]string{"8080:80", ":http", "0:443"}, []portSpec{{8080, "80"}, {0, "http"}, {0, "443"}}, ""},
		{[]string{"8080:"}, nil, `remote port must be specified in "8080:" ([LOCAL:]REMOTE)`},
		{[]string{"x:80"}, nil, `error parsing local port "x": must be a number between 0 and 65535`},
		{[]string{"8080:70000"}, nil, `error parsing remote port "70000": must be between 1 and 65535`},
		{nil, nil, "at least 1 PORT is required for port-forward"},
	}
	for _, tt := range tests {
		got, err := parsePorts(tt.args)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePorts(%q) = %v, %q; want %v, %q", tt.args, got, msg, tt.want, tt.err)
		}
	}
}

func TestPickPodAndPorts(t *testing.T) {
	mk := func(name string, age int, phase corev1.PodPhase, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1000, 0).Add(time.Duration(-age) * time.Hour))},
			Spec:   corev1.PodSpec{NodeName: "n", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
			Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	pods := []*corev1.Pod{mk("pending", 9, corev1.PodPending, false), mk("old-unready", 5, corev1.PodRunning, false),
		mk("young-ready", 1, corev1.PodRunning, true), mk("old-ready", 3, corev1.PodRunning, true)}
	if p := pickPod(pods); p == nil || p.Name != "old-ready" {
		t.Fatalf("picked %v, want the oldest ready running pod", p)
	}
	if p := pickPod(pods[:2]); p == nil || p.Name != "old-unready" {
		t.Fatalf("picked %v, want the running pod", p)
	}
	if p := pickPod(pods[:1]); p != nil {
		t.Fatalf("picked %s, which does not run", p.Name)
	}
	pod := pods[3]
	if n, err := containerPort(pod, "http"); n != 8080 || err != nil {
		t.Errorf("named container port: %d %v", n, err)
	}
	if _, err := containerPort(pod, "grpc"); err == nil || err.Error() != "Pod 'old-ready' does not have a named port 'grpc'" {
		t.Errorf("unknown name: %v", err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "admin", Port: 9000, TargetPort: intstr.FromInt32(9090)}, {Name: "same", Port: 7000}}}}
	for remote, want := range map[string]int32{"80": 8080, "web": 8080, "9000": 9090, "admin": 9090, "same": 7000} {
		if n, err := servicePort(svc, pod, remote); n != want || err != nil {
			t.Errorf("service port %s: %d %v, want %d", remote, n, err, want)
		}
	}
	if _, err := servicePort(svc, pod, "81"); err == nil || err.Error() != "Service web does not have a service port 81" {
		t.Errorf("unknown service port: %v", err)
	}
}
