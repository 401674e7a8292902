package agent_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The reuse tests run on their own node, bridge and pod CIDR, so they can run
// beside the other agent tests.
func startReuseCluster(t *testing.T) *cluster {
	cl := startClusterWith(t, 0, "node-7", "10.66.7.0/24", "wke2e7")
	importDemo(t, cl)
	return cl
}

// create writes manifest as `wake create -f` does: it fails if an object exists.
func (cl *cluster) create(manifest string) {
	cl.t.Helper()
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		cl.t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		cl.t.Fatal(err)
	}
	for i := range docs {
		if _, err := cl.c.Write(context.Background(), &docs[i], client.ModeCreate); err != nil {
			cl.t.Fatal(err)
		}
	}
}

// remove deletes an object as `wake delete` does.
func (cl *cluster) remove(kind, name string) {
	cl.t.Helper()
	k, _ := object.ByKind(kind)
	if err := cl.c.Delete(context.Background(), k, "default", name); err != nil {
		cl.t.Fatal(err)
	}
}

// gone reports whether the object no longer exists.
func (cl *cluster) gone(kind, name string) bool {
	k, _ := object.ByKind(kind)
	_, err := cl.c.Query.Get(context.Background(), k, "default", name)
	return errors.Is(err, query.ErrNotFound)
}

const reusedPod = `apiVersion: v1
kind: Pod
metadata: {name: again, labels: {app: again}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: wake.local/hostname-web:1
    ports: [{containerPort: 8080}]
`

// A bare pod deleted and created again under the same name (a tutorial's
// `delete -f` then `create -f`) runs each time, and each deletion finishes.
func TestPodNameIsReused(t *testing.T) {
	cl := startReuseCluster(t)
	uids := map[string]bool{}
	for round := 1; round <= 3; round++ {
		cl.create(reusedPod)
		eventually(t, fmt.Sprintf("round %d: pod again Running", round), 60*time.Second, func() bool {
			return running(cl.pod("again"))
		})
		p := cl.pod("again")
		if uids[string(p.UID)] {
			t.Fatalf("round %d: pod again has the uid %s of an earlier pod", round, p.UID)
		}
		uids[string(p.UID)] = true
		if got := httpGet(t, "http://"+p.Status.PodIP+":8080/"); got != "again" {
			t.Errorf("round %d: pod again at %s answered %q", round, p.Status.PodIP, got)
		}
		cl.remove("Pod", "again")
		eventually(t, fmt.Sprintf("round %d: pod again deleted (not left Terminating)", round), 30*time.Second, func() bool {
			return cl.gone("Pod", "again")
		})
	}
}

var reusedDeployment = deployment("reuse", "", 2, 2)

// A Deployment deleted and created again gets a ReplicaSet of the same name (the
// name derives from the pod template); its pods run each time, and deleting it
// deletes them all.
func TestDeploymentNameIsReused(t *testing.T) {
	cl := startReuseCluster(t)
	rk, _ := object.ByKind("ReplicaSet")
	rsName := ""
	for round := 1; round <= 2; round++ {
		cl.create(reusedDeployment)
		eventually(t, fmt.Sprintf("round %d: 2 pods Running", round), 60*time.Second, func() bool {
			ps := cl.pods("app=reuse")
			n := 0
			for _, p := range ps {
				if running(p) {
					n++
				}
			}
			return len(ps) == 2 && n == 2
		})
		objs, _, err := cl.c.Query.List(context.Background(), rk, "default", "app=reuse")
		if err != nil || len(objs) != 1 {
			t.Fatalf("round %d: replicasets %v, %v; want one", round, objs, err)
		}
		rs := objs[0].(*appsv1.ReplicaSet)
		if round == 2 && rs.Name != rsName {
			t.Fatalf("round 2: replicaset %s, want the name %s reused (same template)", rs.Name, rsName)
		}
		rsName = rs.Name
		for _, p := range cl.pods("app=reuse") {
			if ref := metav1ControllerName(p); ref != rsName {
				t.Errorf("round %d: pod %s controlled by %q, want %s", round, p.Name, ref, rsName)
			}
		}
		cl.remove("Deployment", "reuse")
		eventually(t, fmt.Sprintf("round %d: deployment, replicaset and pods deleted", round), 60*time.Second, func() bool {
			return cl.gone("Deployment", "reuse") && cl.gone("ReplicaSet", rsName) && len(cl.pods("app=reuse")) == 0
		})
	}
}

func metav1ControllerName(p *corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return ""
}

const reusedReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: again-rs}
spec:
  replicas: 2
  selector: {matchLabels: {app: again-rs}}
  template:
    metadata: {labels: {app: again-rs}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: wake.local/hostname-web:1
        ports: [{containerPort: 8080}]
`

// A ReplicaSet deleted and created again under the same name runs its pods each
// time, and a pod of it deleted is replaced; deleting it deletes them all.
func TestReplicaSetNameIsReused(t *testing.T) {
	cl := startReuseCluster(t)
	runningPods := func() []*corev1.Pod {
		var out []*corev1.Pod
		for _, p := range cl.pods("app=again-rs") {
			if running(p) {
				out = append(out, p)
			}
		}
		return out
	}
	for round := 1; round <= 2; round++ {
		cl.create(reusedReplicaSet)
		eventually(t, fmt.Sprintf("round %d: 2 pods Running", round), 60*time.Second, func() bool {
			return len(cl.pods("app=again-rs")) == 2 && len(runningPods()) == 2
		})
		victim := runningPods()[0].Name
		cl.remove("Pod", victim)
		eventually(t, fmt.Sprintf("round %d: pod %s replaced", round, victim), 60*time.Second, func() bool {
			return cl.gone("Pod", victim) && len(runningPods()) == 2
		})
		cl.remove("ReplicaSet", "again-rs")
		eventually(t, fmt.Sprintf("round %d: replicaset and pods deleted", round), 60*time.Second, func() bool {
			return cl.gone("ReplicaSet", "again-rs") && len(cl.pods("app=again-rs")) == 0
		})
	}
}
