package printer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// print runs Print with the fixed test time and returns its output.
func print(t *testing.T, objs []runtime.Object, opts Options) string {
	t.Helper()
	opts.Now = now
	var b bytes.Buffer
	if err := Print(&b, objs, opts); err != nil {
		t.Fatalf("Print: %v", err)
	}
	return b.String()
}

// text joins lines with a trailing newline, so expected tables stay readable.
func text(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func apiDeployment() *appsv1.Deployment {
	d := webDeployment()
	d.Name = "api"
	d.Labels = nil
	d.CreationTimestamp = ago(10 * time.Second)
	d.Spec.Replicas = nil // defaults to 1
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "api", Image: "ghcr.io/acme/api:v2"}}
	d.Status = appsv1.DeploymentStatus{}
	return d
}

func testServices() []runtime.Object {
	return []runtime.Object{
		service("web", nil),
		service("web-np", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 443, NodePort: 30443, Protocol: "TCP"}}
		}),
		service("web-lb", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.12", []string{"10.96.0.12"}
			s.Spec.Ports[0].NodePort = 31000
		}),
		service("db", func(s *corev1.Service) { // headless, protocol left to the default
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 5432}}
		}),
		service("ext", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			s.Spec.ExternalName = "db.example.com"
			s.Spec.Ports, s.Spec.Selector = nil, nil
		}),
		service("web-lb2", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.13", []string{"10.96.0.13"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "a1b2c3d4e5.elb.example.com"}}
		}),
	}
}

func testNodes() []runtime.Object {
	cp := node("cp-1", corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"})
	w1 := node("worker-1", corev1.ConditionFalse, map[string]string{"kubernetes.io/role": "worker"})
	w1.Spec.Unschedulable = true
	w2 := node("worker-2", corev1.ConditionTrue, nil)
	w2.Status.Conditions = nil
	w2.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "203.0.113.9"}}
	w2.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.29.4"}
	return []runtime.Object{cp, w1, w2}
}

func testEndpoints() []runtime.Object {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	typeMeta := metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"}
	return []runtime.Object{
		&corev1.Endpoints{TypeMeta: typeMeta, ObjectMeta: objMeta("web", "default", time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"),
			Ports:     []corev1.EndpointPort{{Port: 8080}},
		}}},
		&corev1.Endpoints{TypeMeta: typeMeta, ObjectMeta: objMeta("db", "default", time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.9"), // headless without ports
		}}},
		&corev1.Endpoints{TypeMeta: typeMeta, ObjectMeta: objMeta("idle", "default", time.Hour)},
	}
}

func testConfigAndSecrets() (configMaps, secrets []runtime.Object) {
	cmType := metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	secretType := metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	configMaps = []runtime.Object{
		&corev1.ConfigMap{TypeMeta: cmType, ObjectMeta: objMeta("app-config", "default", 90*time.Second),
			Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"logo.png": {1, 2}}},
		&corev1.ConfigMap{TypeMeta: cmType, ObjectMeta: objMeta("empty", "default", 9*24*time.Hour)},
	}
	secrets = []runtime.Object{
		&corev1.Secret{TypeMeta: secretType, ObjectMeta: objMeta("db-creds", "default", 7*time.Minute+5*time.Second),
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"username": []byte("admin"), "password": []byte("hunter2")}},
		&corev1.Secret{TypeMeta: secretType, ObjectMeta: objMeta("web-tls", "default", 400*24*time.Hour),
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}},
	}
	return configMaps, secrets
}

func testNamespaces() []runtime.Object {
	nsType := metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
	return []runtime.Object{
		&corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: ago(30 * 24 * time.Hour)},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "fresh", CreationTimestamp: ago(3 * time.Second)}},
		&corev1.Namespace{TypeMeta: nsType, ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: ago(400 * 24 * time.Hour)},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
	}
}

func widget() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	u.SetName("gizmo")
	u.SetNamespace("default")
	u.SetCreationTimestamp(ago(26 * time.Hour))
	return u
}

func TestTables(t *testing.T) {
	configMaps, secrets := testConfigAndSecrets()
	tests := []struct {
		name string
		objs []runtime.Object
		opts Options
		want string
	}{
		{"pods", []runtime.Object{runningPod("web-1"), crashingPod("web-2")}, Options{}, text(
			"NAME    READY   STATUS             RESTARTS     AGE",
			"web-1   1/1     Running            0            5m",
			"web-2   0/1     CrashLoopBackOff   5 (2m ago)   5m",
		)},
		{"pods wide", []runtime.Object{runningPod("web-1"), crashingPod("web-2")}, Options{Output: "wide"}, text(
			"NAME    READY   STATUS             RESTARTS     AGE   IP           NODE     NOMINATED NODE   READINESS GATES",
			"web-1   1/1     Running            0            5m    10.244.0.5   node-1   <none>           <none>",
			"web-2   0/1     CrashLoopBackOff   5 (2m ago)   5m    <none>       node-2   <none>           <none>",
		)},
		{"deployments", []runtime.Object{webDeployment(), apiDeployment()}, Options{}, text(
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE",
			"web    2/3     3            2           3h20m",
			"api    0/1     0            0           10s",
		)},
		{"deployments wide", []runtime.Object{webDeployment(), apiDeployment()}, Options{Output: "wide"}, text(
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS    IMAGES                SELECTOR",
			"web    2/3     3            2           3h20m   web,sidecar   nginx:1.25,busybox    app=web",
			"api    0/1     0            0           10s     api           ghcr.io/acme/api:v2   app=api",
		)},
		{"replicasets", []runtime.Object{webReplicaSet()}, Options{}, text(
			"NAME             DESIRED   CURRENT   READY   AGE",
			"web-7d4b9c8f5d   3         3         2       3h",
		)},
		{"replicasets wide", []runtime.Object{webReplicaSet()}, Options{Output: "wide"}, text(
			"NAME             DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES       SELECTOR",
			"web-7d4b9c8f5d   3         3         2       3h    web          nginx:1.25   app=web,pod-template-hash=7d4b9c8f5d",
		)},
		{"services", testServices(), Options{}, text(
			"NAME      TYPE           CLUSTER-IP   EXTERNAL-IP        PORT(S)                      AGE",
			"web       ClusterIP      10.96.0.10   <none>             80/TCP                       120m",
			"web-np    NodePort       10.96.0.11   <none>             80:30080/TCP,443:30443/TCP   120m",
			"web-lb    LoadBalancer   10.96.0.12   <pending>          80:31000/TCP                 120m",
			"db        ClusterIP      None         <none>             5432/TCP                     120m",
			"ext       ExternalName   <none>       db.example.com     <none>                       120m",
			"web-lb2   LoadBalancer   10.96.0.13   a1b2c3d4e5.el...   80/TCP                       120m",
		)},
		{"services wide", testServices(), Options{Output: "wide"}, text(
			"NAME      TYPE           CLUSTER-IP   EXTERNAL-IP                  PORT(S)                      AGE    SELECTOR",
			"web       ClusterIP      10.96.0.10   <none>                       80/TCP                       120m   app=web",
			"web-np    NodePort       10.96.0.11   <none>                       80:30080/TCP,443:30443/TCP   120m   app=web-np",
			"web-lb    LoadBalancer   10.96.0.12   <pending>                    80:31000/TCP                 120m   app=web-lb",
			"db        ClusterIP      None         <none>                       5432/TCP                     120m   app=db",
			"ext       ExternalName   <none>       db.example.com               <none>                       120m   <none>",
			"web-lb2   LoadBalancer   10.96.0.13   a1b2c3d4e5.elb.example.com   80/TCP                       120m   app=web-lb2",
		)},
		{"namespaces", testNamespaces(), Options{}, text(
			"NAME      STATUS        AGE",
			"default   Active        30d",
			"fresh     Active        3s",
			"old       Terminating   400d",
		)},
		{"nodes", testNodes(), Options{}, text(
			"NAME       STATUS                        ROLES           AGE    VERSION",
			"cp-1       Ready                         control-plane   2d2h   v1.30.0",
			"worker-1   NotReady,SchedulingDisabled   worker          2d2h   v1.30.0",
			"worker-2   Unknown                       <none>          2d2h   v1.29.4",
		)},
		{"nodes wide", testNodes(), Options{Output: "wide"}, text(
			"NAME       STATUS                        ROLES           AGE    VERSION   INTERNAL-IP    EXTERNAL-IP   OS-IMAGE             KERNEL-VERSION       CONTAINER-RUNTIME",
			"cp-1       Ready                         control-plane   2d2h   v1.30.0   192.168.1.10   <none>        Ubuntu 22.04.4 LTS   5.15.0-105-generic   containerd://1.7.13",
			"worker-1   NotReady,SchedulingDisabled   worker          2d2h   v1.30.0   192.168.1.10   <none>        Ubuntu 22.04.4 LTS   5.15.0-105-generic   containerd://1.7.13",
			"worker-2   Unknown                       <none>          2d2h   v1.29.4   <none>         203.0.113.9   <unknown>            <unknown>            <unknown>",
		)},
		{"configmaps", configMaps, Options{}, text(
			"NAME         DATA   AGE",
			"app-config   3      90s",
			"empty        0      9d",
		)},
		{"secrets", secrets, Options{}, text(
			"NAME       TYPE                DATA   AGE",
			"db-creds   Opaque              2      7m5s",
			"web-tls    kubernetes.io/tls   2      400d",
		)},
		{"endpoints", testEndpoints(), Options{}, text(
			"NAME   ENDPOINTS                                               AGE",
			"web    10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...   60m",
			"db     10.0.0.9                                                60m",
			"idle   <none>                                                  60m",
		)},
		{"ingress", []runtime.Object{ingress()}, Options{}, text(
			"NAME   CLASS   HOSTS                         ADDRESS       PORTS     AGE",
			"web    nginx   example.com,www.example.com   203.0.113.7   80, 443   40s",
		)},
		{"other kinds", []runtime.Object{widget()}, Options{}, text(
			"NAME    AGE",
			"gizmo   26h",
		)},
		{"other kinds wide has no extra columns", []runtime.Object{widget()}, Options{Output: "wide"}, text(
			"NAME    AGE",
			"gizmo   26h",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := print(t, tt.objs, tt.opts); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestTableDecorations(t *testing.T) {
	kubeDNS := runningPod("coredns-5d78c9869d-x7x2q")
	kubeDNS.Namespace = "kube-system"
	kubeDNS.Labels = map[string]string{"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"}
	web := runningPod("web-1")
	pods := []runtime.Object{web, kubeDNS}

	tests := []struct {
		name string
		objs []runtime.Object
		opts Options
		want string
	}{
		{"all namespaces", pods, Options{AllNamespaces: true}, text(
			"NAMESPACE     NAME                       READY   STATUS    RESTARTS   AGE",
			"default       web-1                      1/1     Running   0          5m",
			"kube-system   coredns-5d78c9869d-x7x2q   1/1     Running   0          5m",
		)},
		{"show labels", pods, Options{ShowLabels: true}, text(
			"NAME                       READY   STATUS    RESTARTS   AGE   LABELS",
			"web-1                      1/1     Running   0          5m    <none>",
			"coredns-5d78c9869d-x7x2q   1/1     Running   0          5m    k8s-app=kube-dns,pod-template-hash=5d78c9869d",
		)},
		{"no headers", pods, Options{NoHeaders: true}, text(
			"web-1                      1/1   Running   0     5m",
			"coredns-5d78c9869d-x7x2q   1/1   Running   0     5m",
		)},
		{"cluster-scoped kinds get no namespace column", testNamespaces()[:1], Options{AllNamespaces: true}, text(
			"NAME      STATUS   AGE",
			"default   Active   30d",
		)},
		{"wide, all namespaces and labels together", []runtime.Object{web}, Options{Output: "wide", AllNamespaces: true, ShowLabels: true}, text(
			"NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP           NODE     NOMINATED NODE   READINESS GATES   LABELS",
			"default     web-1   1/1     Running   0          5m    10.244.0.5   node-1   <none>           <none>            <none>",
		)},
		{"mixed kinds print one table per kind", []runtime.Object{web, service("web", nil), webDeployment(), webReplicaSet(), runningPod("web-2")}, Options{}, text(
			"NAME        READY   STATUS    RESTARTS   AGE",
			"pod/web-1   1/1     Running   0          5m",
			"pod/web-2   1/1     Running   0          5m",
			"",
			"NAME          TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE",
			"service/web   ClusterIP   10.96.0.10   <none>        80/TCP    120m",
			"",
			"NAME                  READY   UP-TO-DATE   AVAILABLE   AGE",
			"deployment.apps/web   2/3     3            2           3h20m",
			"",
			"NAME                             DESIRED   CURRENT   READY   AGE",
			"replicaset.apps/web-7d4b9c8f5d   3         3         2       3h",
		)},
		{"mixed kinds without headers have no blank lines", []runtime.Object{web, service("web", nil)}, Options{NoHeaders: true}, text(
			"pod/web-1   1/1   Running   0     5m",
			"service/web   ClusterIP   10.96.0.10   <none>   80/TCP   120m",
		)},
		{"mixed kinds with all namespaces", []runtime.Object{web, testNodes()[0]}, Options{AllNamespaces: true}, text(
			"NAMESPACE   NAME        READY   STATUS    RESTARTS   AGE",
			"default     pod/web-1   1/1     Running   0          5m",
			"",
			"NAME        STATUS   ROLES           AGE    VERSION",
			"node/cp-1   Ready    control-plane   2d2h   v1.30.0",
		)},
		{"empty list prints nothing", nil, Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := print(t, tt.objs, tt.opts); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestCellsAreTerminalSafe(t *testing.T) {
	p := runningPod("web-1")
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "Bad\x1b[31mReason\nsecond line"}}
	got := print(t, []runtime.Object{p}, Options{NoHeaders: true})
	want := "web-1   0/1   Bad^[[31mReason...   0     5m\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestListsAndUnstructuredObjects(t *testing.T) {
	list := &corev1.PodList{Items: []corev1.Pod{*runningPod("web-1"), *crashingPod("web-2")}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(runningPod("web-3"))
	if err != nil {
		t.Fatal(err)
	}
	objs := []runtime.Object{list, &unstructured.Unstructured{Object: u}}
	want := text(
		"NAME    READY   STATUS             RESTARTS     AGE",
		"web-1   1/1     Running            0            5m",
		"web-2   0/1     CrashLoopBackOff   5 (2m ago)   5m",
		"web-3   1/1     Running            0            5m",
	)
	if got := print(t, objs, Options{}); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got, want := print(t, objs, Options{Output: "name"}), text("pod/web-1", "pod/web-2", "pod/web-3"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
