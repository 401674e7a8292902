package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/node/image"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// rolloutWeb is a 4-replica Deployment whose pods are Ready only when their
// HTTP server answers, rolled one pod at a time (maxUnavailable 1, maxSurge 1).
func rolloutWeb(image string, deadline int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: roll}
spec:
  replicas: 4
  progressDeadlineSeconds: %d
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}
  selector: {matchLabels: {app: roll}}
  template:
    metadata: {labels: {app: roll}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: %s
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: http}
          periodSeconds: 1
          failureThreshold: 1
`, deadline, image)
}

// readyPods are the pods an endpoints controller would send traffic to: Ready,
// not being deleted, with an IP.
func readyPods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out = append(out, p)
			}
		}
	}
	return out
}

// poller asks every Ready pod for its name, over and over, and records the
// fewest Ready pods it saw and every request a Ready pod did not answer.
type poller struct {
	mu       sync.Mutex
	fewest   int
	failures []string
	polls    int
	images   map[string]bool // images of the Ready pods seen
}

func (p *poller) run(ctx context.Context, cl *cluster) {
	client := &http.Client{Timeout: 2 * time.Second}
	for ctx.Err() == nil {
		ready := readyPods(cl.pods("app=roll"))
		p.mu.Lock()
		p.polls++
		p.fewest = min(p.fewest, len(ready))
		for _, pod := range ready {
			p.images[pod.Spec.Containers[0].Image] = true
		}
		p.mu.Unlock()
		for _, pod := range ready {
			resp, err := client.Get("http://" + pod.Status.PodIP + ":8080/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					continue
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if ctx.Err() != nil {
				return
			}
			// The pod may have been deleted since the list: only a pod
			// still Ready and not deleting counts as a failure.
			if now := cl.pod(pod.Name); now != nil && len(readyPods([]*corev1.Pod{now})) == 1 {
				p.mu.Lock()
				p.failures = append(p.failures, fmt.Sprintf("%s (%s): %v", pod.Name, pod.Spec.Containers[0].Image, err))
				p.mu.Unlock()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (cl *cluster) deploymentStatus(name string) *appsv1.Deployment {
	k, _ := object.ByKind("Deployment")
	st, err := cl.c.Query.Get(context.Background(), k, "default", name)
	if err != nil {
		cl.t.Fatal(err)
	}
	return st.Object.(*appsv1.Deployment)
}

func progressing(d *appsv1.Deployment) (corev1.ConditionStatus, string) {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// TestRollingUpdateKeepsReadyPodsServing rolls a 4-replica Deployment with a
// readiness probe to a new image while a client polls every Ready pod: never
// fewer Ready pods than replicas - maxUnavailable, and every Ready pod
// answers. Then a rollout to an image that never gets Ready stalls, is marked
// failed at its deadline while the old pods keep serving, and rollout undo
// brings the old image back.
func TestRollingUpdateKeepsReadyPodsServing(t *testing.T) {
	cl := startClusterWith(t, 0, "node-r", "10.66.15.0/24", "wke2er")
	importDemo(t, cl)
	// The same server under a second name: the new version.
	imgs, err := images.Demo(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := image.WriteArchive(&buf, map[string]v1.Image{"wake.local/hostname-web:2": imgs["wake.local/hostname-web:1"]}); err != nil {
		t.Fatal(err)
	}
	if msg, err := cl.c.NC.Request(api.ImageImportSubject(cl.cfg.NodeName), buf.Bytes(), time.Minute); err != nil || !strings.Contains(string(msg.Data), "hostname-web:2") {
		t.Fatalf("import v2: %v %s", err, msg.Data)
	}

	cl.apply(rolloutWeb("wake.local/hostname-web:1", 600))
	eventually(t, "4 Ready pods of v1", 90*time.Second, func() bool { return len(readyPods(cl.pods("app=roll"))) == 4 })

	ctx, stop := context.WithCancel(context.Background())
	p := &poller{fewest: 4, images: map[string]bool{}}
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx, cl) }()
	cl.apply(rolloutWeb("wake.local/hostname-web:2", 600))
	eventually(t, "the rollout to v2 complete", 120*time.Second, func() bool {
		ready := readyPods(cl.pods("app=roll"))
		d := cl.deploymentStatus("roll")
		if len(ready) != 4 || d.Status.UpdatedReplicas != 4 || d.Status.Replicas != 4 || d.Status.ObservedGeneration != d.Generation {
			return false
		}
		for _, pod := range ready {
			if pod.Spec.Containers[0].Image != "wake.local/hostname-web:2" {
				return false
			}
		}
		return true
	})
	stop()
	<-done
	if p.fewest < 3 {
		t.Errorf("during the rollout only %d pods were Ready, want at least replicas - maxUnavailable = 3", p.fewest)
	}
	if len(p.failures) > 0 {
		t.Errorf("Ready pods did not answer during the rollout (%d of %d polls):\n%s", len(p.failures), p.polls, strings.Join(p.failures, "\n"))
	}
	if !p.images["wake.local/hostname-web:1"] || !p.images["wake.local/hostname-web:2"] {
		t.Errorf("the poller saw Ready pods of %v, want both versions (it did not watch the rollout)", p.images)
	}

	// A version that never gets Ready: its server does not run.
	bad := strings.Replace(rolloutWeb("docker.io/library/busybox:1.35", 8), "      - name: web\n", "      - name: web\n        command: [sleep, \"3600\"]\n", 1)
	cl.apply(bad)
	ctx, stop = context.WithCancel(context.Background())
	p = &poller{fewest: 4, images: map[string]bool{}}
	done = make(chan struct{})
	go func() { defer close(done); p.run(ctx, cl) }()
	eventually(t, "the stalled rollout marked failed at its deadline", 60*time.Second, func() bool {
		status, reason := progressing(cl.deploymentStatus("roll"))
		return status == corev1.ConditionFalse && reason == "ProgressDeadlineExceeded"
	})
	stop()
	<-done
	if p.fewest < 3 || len(p.failures) > 0 {
		t.Errorf("while the bad version stalled: fewest Ready %d (want >= 3), failures %v", p.fewest, p.failures)
	}
	if p.images["docker.io/library/busybox:1.35"] {
		t.Error("a pod of the version that never answers was counted Ready")
	}

	out, err := cl.c.Undo(context.Background(), "default", "roll", 0)
	if err != nil || out != "rolled back" {
		t.Fatalf("rollout undo: %q, %v", out, err)
	}
	eventually(t, "v2 restored on all 4 pods, the failed pods gone", 90*time.Second, func() bool {
		pods := cl.pods("app=roll")
		ready := readyPods(pods)
		if len(ready) != 4 || len(pods) != 4 {
			return false
		}
		for _, pod := range pods {
			if pod.Spec.Containers[0].Image != "wake.local/hostname-web:2" {
				return false
			}
		}
		return true
	})
}
