package agent_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	corev1 "k8s.io/api/core/v1"
)

const claimPods = `apiVersion: v1
kind: Pod
metadata: {name: claimer}
spec:
  nodeName: node-8
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
---
apiVersion: v1
kind: Pod
metadata: {name: scratcher}
spec:
  nodeName: node-8
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
`

// A pod that names its node (so no scheduler holds it) and mounts a claim that
// does not exist reaches its node, which refuses to start it without the volume:
// it stays Pending, its container waiting in ContainerCreating, and describe
// shows the kubelet's FailedMount warning naming the claim.
func TestPodWithAMissingClaimIsHeldOnItsNode(t *testing.T) {
	cl := startStoppingCluster(t)
	rt := cl.runtimeView()
	cl.create(claimPods)
	k, _ := object.ByKind("Pod")
	for pod, claim := range map[string]string{"claimer": "data", "scratcher": "scratcher-scratch"} {
		want := regexp.MustCompile(`Warning\s+FailedMount\s+\S+\s+system:node:node-8\s+Unable to attach or mount volumes: ` +
			`unmounted volumes=\[\w+\], unattached volumes=\[\w+\]: error processing PVC default/` + claim +
			`: persistentvolumeclaim "` + claim + `" not found`)
		var text string
		eventually(t, pod+": FailedMount in describe", 30*time.Second, func() bool {
			p := cl.pod(pod)
			if p == nil {
				return false
			}
			evs, err := cl.c.Query.Events(context.Background(), k, "default", pod, 20)
			if err != nil {
				t.Fatal(err)
			}
			var pevs []printer.Event
			for _, e := range evs {
				pevs = append(pevs, printer.Event{Time: e.Time, Type: e.Type, Actor: e.Actor, Message: e.Reason})
			}
			var buf bytes.Buffer
			if err := printer.Describe(&buf, p, pevs, time.Now()); err != nil {
				t.Fatal(err)
			}
			text = buf.String()
			return want.MatchString(text)
		})
		// Held, not started: however long it waits, nothing of it runs.
		time.Sleep(3 * time.Second)
		p := cl.pod(pod)
		if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 ||
			p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
			t.Errorf("%s: status %+v, want Pending with its container waiting in ContainerCreating", pod, p.Status)
		}
		if left := cl.held(rt, p, ""); len(left) > 0 {
			t.Errorf("%s: the node started it without its volume: %s", pod, strings.Join(left, ", "))
		}
		if !strings.Contains(text, "Status:") || !strings.Contains(text, "Pending") {
			t.Errorf("%s: describe does not show it Pending:\n%s", pod, text)
		}
		// Deleting it finishes: the node releases what it never started.
		cl.remove("Pod", pod)
		eventually(t, pod+" deleted", 30*time.Second, func() bool { return cl.gone("Pod", pod) })
	}
}
