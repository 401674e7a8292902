package endpoints_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/endpoints"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const manifests = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, namespace: default, labels: {app: web}}
spec:
  containers: [{name: c, image: demo:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-b, namespace: default, labels: {app: web}}
spec:
  containers: [{name: c, image: demo:1, ports: [{name: http, containerPort: 8080}]}]
`

// running reports what node n says of a pod: running at ip, ready or not.
func running(l *reconciletest.Log, name, ip string, ready bool) {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	status, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}})
	l.As(reconciletest.Node, "pod."+object.Status, events.Ref{Kind: "Pod", Namespace: "default", Name: name, Node: "node-a"},
		&object.StatusChange{Status: status})
}

// addresses is the slice's endpoints as "ip ready" and the Endpoints' subsets.
func addresses(t *testing.T, l *reconciletest.Log) (slice []string, ep string) {
	t.Helper()
	for _, o := range l.List("EndpointSlice", "default") {
		for _, e := range o.(*discoveryv1.EndpointSlice).Endpoints {
			r := "not-ready"
			if *e.Conditions.Ready {
				r = "ready"
			}
			slice = append(slice, e.Addresses[0]+" "+r)
		}
	}
	if st := l.Get(events.Ref{Kind: "Endpoints", Namespace: "default", Name: "web"}); st != nil {
		for _, ss := range st.Object.(*corev1.Endpoints).Subsets {
			for _, a := range ss.Addresses {
				ep += a.IP + " "
			}
			for _, a := range ss.NotReadyAddresses {
				ep += "(" + a.IP + ") "
			}
			for _, p := range ss.Ports {
				ep += ":" + string(rune('0'+p.Port/1000)) + "..."
			}
		}
	}
	return slice, strings.TrimSpace(ep)
}

// The controller as a script: a Service's endpoints follow its pods through
// readiness, deletion, and the Service's own deletion; every change is an event.
func TestScriptEndpointsFollowPods(t *testing.T) {
	l := reconciletest.NewLog(t)
	l.Attach(endpoints.Decision())
	l.Apply(manifests)
	l.Settle()
	if slice, ep := addresses(t, l); len(slice) != 0 || ep != "" {
		t.Fatalf("before any pod runs: slice %q, endpoints %q", slice, ep)
	}
	running(l, "web-a", "10.88.0.5", true)
	running(l, "web-b", "10.88.0.6", false)
	got := l.Summary(l.Settle())
	if len(got) != 2 || !strings.HasPrefix(got[0], "endpointslice.updated") || !strings.HasPrefix(got[1], "endpoints.updated") {
		// The slice that said "no endpoints" is updated in place.
		t.Errorf("once pods run the controller appended %q", got)
	}
	slice, ep := addresses(t, l)
	if want := []string{"10.88.0.5 ready", "10.88.0.6 not-ready"}; !reflect.DeepEqual(slice, want) || ep != "10.88.0.5 (10.88.0.6) :8..." {
		t.Errorf("slice %q (want %q), endpoints %q", slice, want, ep)
	}
	running(l, "web-b", "10.88.0.6", true)
	l.Settle()
	if slice, _ := addresses(t, l); !reflect.DeepEqual(slice, []string{"10.88.0.5 ready", "10.88.0.6 ready"}) {
		t.Errorf("after web-b is ready: %q", slice)
	}
	// Deleting web-a: terminating, it stays in the slice, not ready, and
	// leaves the Endpoints; once gone, it leaves the slice.
	a := events.Ref{Kind: "Pod", Namespace: "default", Name: "web-a"}
	l.Delete(a)
	l.Settle()
	if slice, ep := addresses(t, l); !reflect.DeepEqual(slice, []string{"10.88.0.5 not-ready", "10.88.0.6 ready"}) || ep != "10.88.0.6 :8..." {
		t.Errorf("while web-a terminates: %q, %q", slice, ep)
	}
	l.User("pod."+object.Deleted, a, &object.Deletion{UID: string(l.Get(a).Object.GetUID())})
	l.Settle()
	if slice, ep := addresses(t, l); !reflect.DeepEqual(slice, []string{"10.88.0.6 ready"}) || ep != "10.88.0.6 :8..." {
		t.Errorf("after web-a was deleted: %q, %q", slice, ep)
	}
	if got := l.Settle(); len(got) != 0 {
		t.Errorf("settled, yet appended %q", l.Summary(got))
	}
	l.Delete(events.Ref{Kind: "Service", Namespace: "default", Name: "web"})
	got = l.Summary(l.Settle())
	if len(got) != 2 || !strings.HasPrefix(got[0], "endpointslice.deleted") || got[1] != "endpoints.deleted Endpoints/default/web @"+strings.Split(got[1], "@")[1] {
		t.Errorf("after the service was deleted: %q", got)
	}
	if len(l.List("EndpointSlice", "default")) != 0 || l.Get(events.Ref{Kind: "Endpoints", Namespace: "default", Name: "web"}) != nil {
		t.Error("the service's endpoints outlived it")
	}
	for _, ev := range l.Events() {
		if (ev.Object.Kind == "EndpointSlice" || ev.Object.Kind == "Endpoints") && (ev.Actor != endpoints.Actor || ev.Cause == "") {
			t.Errorf("%s %s by %s caused by %q", ev.Type, ev.Object, ev.Actor, ev.Cause)
		}
	}
}

// A Service without a selector keeps the Endpoints people write.
func TestScriptHandWrittenEndpointsStay(t *testing.T) {
	l := reconciletest.NewLog(t)
	l.Attach(endpoints.Decision())
	l.Apply(`apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: db, namespace: default}
subsets: [{addresses: [{ip: 192.168.5.5}], ports: [{port: 5432}]}]
`)
	if got := l.Settle(); len(got) != 0 {
		t.Errorf("the controller appended %q for a service without selector", l.Summary(got))
	}
}
