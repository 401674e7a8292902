package deployment_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/deployment"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var webRef = events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}

// rolloutManifest is the Deployment web with replicas, image, a strategy and
// more spec lines (indented by two spaces).
func rolloutManifest(replicas int, image, strategy, more string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  strategy: %s
%s  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: %s}]
`, replicas, strategy, more, image)
}

func webDeployment(l *reconciletest.Log) *appsv1.Deployment {
	return l.Get(webRef).Object.(*appsv1.Deployment)
}

// podsByImage counts the deployment's live pods (not being deleted) by image,
// and how many of them are ready.
func podsByImage(l *reconciletest.Log) (live, ready map[string]int) {
	live, ready = map[string]int{}, map[string]int{}
	for _, o := range l.List("Pod", "default") {
		p := o.(*corev1.Pod)
		if p.DeletionTimestamp != nil {
			continue
		}
		img := p.Spec.Containers[0].Image
		live[img]++
		if p.Status.Phase == corev1.PodRunning {
			ready[img]++
		}
	}
	return live, ready
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// readyOne reports the first live pod (by name) not yet ready as ready.
func readyOne(l *reconciletest.Log) bool {
	names := make([]string, 0)
	for name, o := range l.List("Pod", "default") {
		if p := o.(*corev1.Pod); p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodRunning {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return false
	}
	slices.Sort(names)
	l.Ready(events.Ref{Kind: "Pod", Namespace: "default", Name: names[0]}, "n1")
	return true
}

// settleChecking runs the controllers round by round as Settle does and calls
// check after every single controller's round.
func settleChecking(t *testing.T, l *reconciletest.Log, ctls []*reconciletest.Controller, check func()) {
	t.Helper()
	for range reconciletest.MaxRounds {
		quiet := true
		for _, c := range ctls {
			if len(c.Round()) > 0 {
				quiet = false
			}
			check()
		}
		if quiet {
			return
		}
	}
	t.Fatal("controllers not quiet")
}

// Across whole rollouts where the pods become ready one at a time, available
// pods never drop below replicas - maxUnavailable and pods never exceed
// replicas + maxSurge (rounded as Kubernetes does), checked after every
// controller's round, and every rollout finishes on the new image.
func TestScriptRolloutKeepsAvailabilityAtEveryRound(t *testing.T) {
	for _, c := range []struct {
		replicas          int
		strategy          string
		minAvail, maxPods int
	}{
		{4, "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}", 4, 5},
		{4, "{type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}", 3, 4},
		{4, "{}", 3, 5}, // 25%: surge rounds up to 1, unavailable down to 1
		{10, "{}", 8, 13},
		{10, "{type: RollingUpdate, rollingUpdate: {maxSurge: 50%, maxUnavailable: 33%}}", 7, 15},
		{3, "{type: RollingUpdate, rollingUpdate: {maxSurge: 1%, maxUnavailable: 99%}}", 1, 4}, // 0.03 up to 1; 2.97 down to 2
		{5, "{type: RollingUpdate, rollingUpdate: {maxSurge: 100%, maxUnavailable: 0}}", 5, 10},
	} {
		t.Run(fmt.Sprintf("%d %s", c.replicas, c.strategy), func(t *testing.T) {
			l := reconciletest.NewLog(t)
			ctls := []*reconciletest.Controller{l.Attach(deployment.Decision()), l.Attach(replicaset.Decision()), l.Attach(gc.Decision())}
			l.Apply(rolloutManifest(c.replicas, "nginx:1.25", c.strategy, ""))
			l.Settle()
			for readyOne(l) {
				l.Settle()
			}
			l.Apply(rolloutManifest(c.replicas, "nginx:1.26", c.strategy, ""))
			rounds := 0
			check := func() {
				rounds++
				live, ready := podsByImage(l)
				if sum(ready) < c.minAvail || sum(live) > c.maxPods {
					t.Fatalf("round %d: %v ready of %v live pods, want at least %d ready and at most %d pods", rounds, ready, live, c.minAvail, c.maxPods)
				}
			}
			for step := 0; ; step++ {
				settleChecking(t, l, ctls, check)
				l.Advance(time.Second)
				if !readyOne(l) {
					break
				}
				if step > 100 {
					t.Fatal("the rollout does not finish")
				}
			}
			live, ready := podsByImage(l)
			if live["nginx:1.26"] != c.replicas || ready["nginx:1.26"] != c.replicas || sum(live) != c.replicas {
				t.Errorf("after the rollout: live %v ready %v, want %d new pods only", live, ready, c.replicas)
			}
			d := webDeployment(l)
			if p := progressing(d); p == nil || p.Reason != "NewReplicaSetAvailable" || d.Status.AvailableReplicas != int32(c.replicas) {
				t.Errorf("status %+v, want NewReplicaSetAvailable with every replica available", d.Status)
			}
		})
	}
}

func progressing(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// A 25% rollout of 10 replicas, all available: the new ReplicaSet surges to 3
// (2.5 rounded up), the old one goes to 8 (2.5 unavailable rounded down), and
// the new one fills the room the old left, to 5, as Kubernetes does.
func TestScriptPercentagesRoundAsKubernetes(t *testing.T) {
	l := scripted(t)
	l.Apply(rolloutManifest(10, "nginx:1.25", "{}", ""))
	l.Settle()
	readyAll(l)
	l.Settle()
	from := len(l.Events())
	l.Apply(rolloutManifest(10, "nginx:1.26", "{}", ""))
	l.Settle()
	oldName, newName := "web-"+oldHash(l), newestName(l)
	var steps []string
	for _, ev := range l.Events()[from:] {
		if ev.Type == "replicaset.created" || ev.Type == "replicaset.updated" {
			final, _ := replicas(t, l.Events()[:ev.Seq], "web-")
			steps = append(steps, fmt.Sprintf("old %d new %d", final[oldName], final[newName]))
		}
	}
	if want := []string{"old 10 new 3", "old 8 new 3", "old 8 new 5"}; !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
}

func newestName(l *reconciletest.Log) string {
	d := webDeployment(l)
	return "web-" + deployment.PodTemplateHash(&d.Spec.Template, d.Status.CollisionCount)
}

// oldHash is the hash of the ReplicaSet of revision 1.
func oldHash(l *reconciletest.Log) string {
	for name, o := range l.List("ReplicaSet", "default") {
		if o.GetAnnotations()[deployment.RevisionAnnotation] == "1" {
			return strings.TrimPrefix(name, "web-")
		}
	}
	return ""
}

// With minReadySeconds, a ready new pod counts only once ready that long: the
// rollout takes the next step at that moment (the controllers wake then), not
// before.
func TestScriptMinReadySecondsHoldsTheRollout(t *testing.T) {
	const strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	l := scripted(t)
	l.Apply(rolloutManifest(2, "nginx:1.25", strategy, "  minReadySeconds: 30\n"))
	l.Settle()
	readyAll(l)
	l.Advance(30 * time.Second)
	l.Settle()
	if d := webDeployment(l); d.Status.AvailableReplicas != 2 {
		t.Fatalf("%d available 30s after ready, want 2", d.Status.AvailableReplicas)
	}
	l.Apply(rolloutManifest(2, "nginx:1.26", strategy, "  minReadySeconds: 30\n"))
	l.Settle()
	readyAll(l) // the surge pod
	l.Settle()
	readyAt := l.Now
	l.Advance(29 * time.Second)
	l.Settle()
	if live, _ := podsByImage(l); live["nginx:1.25"] != 2 {
		t.Fatalf("29s after the new pod is ready: %v, want both old pods kept", live)
	}
	next, ok := l.NextWake()
	if !ok || !next.Equal(readyAt.Add(30*time.Second)) {
		t.Fatalf("next wake-up %s %v, want %s (ready + minReadySeconds)", next, ok, readyAt.Add(30*time.Second))
	}
	l.Advance(next.Sub(l.Now))
	l.Settle()
	if live, _ := podsByImage(l); live["nginx:1.25"] != 1 || live["nginx:1.26"] != 2 {
		t.Errorf("at ready + minReadySeconds: %v, want one old pod gone and a second new one", live)
	}
}

// deadlineScript rolls web (3 replicas, maxUnavailable 0, deadline 60s) to an
// image whose pods never become ready, and advances the clock to the deadline.
func deadlineScript(t *testing.T, annotations string) *reconciletest.Log {
	t.Helper()
	const strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	manifest := func(image string) string {
		m := rolloutManifest(3, image, strategy, "  progressDeadlineSeconds: 60\n")
		return strings.Replace(m, "metadata: {name: web}", "metadata: {name: web"+annotations+"}", 1)
	}
	l := scripted(t)
	l.Apply(manifest("nginx:1.25"))
	l.Settle()
	readyAll(l)
	l.Settle()
	if p := progressing(webDeployment(l)); p == nil || p.Reason != "NewReplicaSetAvailable" {
		t.Fatalf("first rollout: %+v", p)
	}
	l.Advance(time.Minute)
	l.Apply(manifest("nginx:1.26"))
	l.Settle()
	started := l.Now
	// The surge pod's creation is progress (one more updated replica).
	if p := progressing(webDeployment(l)); p == nil || p.Status != corev1.ConditionTrue || p.Reason != "ReplicaSetUpdated" || !p.LastUpdateTime.Time.Equal(started) {
		t.Fatalf("rollout started: %+v", p)
	}
	next, ok := l.NextWake()
	if want := started.Add(61 * time.Second); !ok || !next.Equal(want) {
		t.Fatalf("next wake-up %s %v, want %s: the deadline and a second", next, ok, want)
	}
	l.Advance(59 * time.Second)
	if got := l.Settle(); len(got) != 0 {
		t.Fatalf("before the deadline: appended %q", l.Summary(got))
	}
	l.Advance(next.Sub(l.Now))
	return l
}

// A rollout that makes no progress within progressDeadlineSeconds is marked
// Progressing=False ProgressDeadlineExceeded at the deadline (the controller
// wakes for it), and the old ReplicaSet keeps serving.
func TestScriptProgressDeadlineExceeded(t *testing.T) {
	l := deadlineScript(t, "")
	got := l.Settle()
	expect(t, l, got, "deployment.status Deployment/default/web @"+fmt.Sprint(l.Version(webRef)-1))
	d := webDeployment(l)
	p := progressing(d)
	if p == nil || p.Status != corev1.ConditionFalse || p.Reason != deployment.ReasonTimedOut ||
		p.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", newestName(l)) || !p.LastUpdateTime.Time.Equal(l.Now) {
		t.Errorf("progressing = %+v, want False ProgressDeadlineExceeded now", p)
	}
	if live, ready := podsByImage(l); live["nginx:1.25"] != 3 || ready["nginx:1.25"] != 3 || live["nginx:1.26"] != 1 {
		t.Errorf("pods %v ready %v, want the 3 old ones serving beside the 1 surge pod", live, ready)
	}
	if _, ok := l.NextWake(); ok {
		t.Error("a wake-up after the deadline passed")
	}
	// Without the opt-in nothing rolls back, however long it waits.
	l.Advance(time.Hour)
	if got := l.Settle(); len(got) != 0 {
		t.Errorf("an hour later: appended %q", l.Summary(got))
	}
	if img := webDeployment(l).Spec.Template.Spec.Containers[0].Image; img != "nginx:1.26" {
		t.Errorf("template image %s: rolled back without the opt-in", img)
	}
	// Progress again (the new pod becomes ready) makes the rollout go on.
	readyAll(l)
	l.Settle()
	if p := progressing(webDeployment(l)); p == nil || p.Status != corev1.ConditionTrue || p.Reason != "ReplicaSetUpdated" {
		t.Errorf("after progress: %+v, want True ReplicaSetUpdated", p)
	}
}

// With wake.run/rollback-on-failure: "true", the controller rolls a rollout that
// passed its deadline back to the previous revision, records why as the
// change cause, marks the failed ReplicaSet, and the old pods come back.
func TestScriptRollbackOnFailure(t *testing.T) {
	l := deadlineScript(t, `, annotations: {wake.run/rollback-on-failure: "true"}`)
	failedRS := newestName(l)
	got := l.Settle()
	updates := reconciletest.OfType(got, "deployment.updated")
	if len(updates) != 1 || updates[0].Actor != deployment.Actor || !strings.Contains(updates[0].Reason, "rolls back to revision 1") {
		t.Fatalf("appended %q, want one rollback of the deployment by the controller", l.Summary(got))
	}
	d := webDeployment(l)
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.25" {
		t.Errorf("template image %s, want nginx:1.25 back", img)
	}
	cause := d.Annotations[deployment.ChangeCauseAnnotation]
	if !strings.Contains(cause, "revision 2 (replicaset "+failedRS+") made no progress for 60s") || !strings.Contains(cause, "rolled back to revision 1") {
		t.Errorf("change cause %q", cause)
	}
	sets := l.List("ReplicaSet", "default")
	if f := sets[failedRS]; f == nil || f.GetAnnotations()[deployment.FailedAnnotation] == "" {
		t.Errorf("failed replicaset %s not marked: %v", failedRS, f)
	}
	restored := sets["web-"+oldHash(l)]
	if restored != nil {
		t.Errorf("revision 1 still named revision 1: %v", restored.GetAnnotations())
	}
	for name, o := range sets {
		rs := o.(*appsv1.ReplicaSet)
		if name != failedRS && (rs.Annotations[deployment.RevisionAnnotation] != "3" || rs.Annotations[deployment.ChangeCauseAnnotation] != cause || *rs.Spec.Replicas != 3) {
			t.Errorf("restored replicaset %s: annotations %v replicas %d, want revision 3 with the rollback as its cause", name, rs.Annotations, *rs.Spec.Replicas)
		}
		if name == failedRS && *rs.Spec.Replicas != 0 {
			t.Errorf("failed replicaset at %d replicas, want 0", *rs.Spec.Replicas)
		}
	}
	if live, _ := podsByImage(l); live["nginx:1.25"] != 3 || live["nginx:1.26"] != 0 {
		t.Errorf("pods %v, want the 3 old ones only", live)
	}
	if p := progressing(webDeployment(l)); p == nil || p.Reason != "NewReplicaSetAvailable" {
		t.Errorf("after the rollback: %+v, want NewReplicaSetAvailable", p)
	}
	// Settled: no second rollback, however long it waits.
	l.Advance(time.Hour)
	if got := l.Settle(); len(got) != 0 {
		t.Errorf("an hour after the rollback: appended %q", l.Summary(got))
	}
}

// A paused Deployment estimates no progress: Progressing is Unknown
// DeploymentPaused and no deadline runs; resuming says DeploymentResumed and the
// deadline counts from then.
func TestScriptPausedRolloutHasNoDeadline(t *testing.T) {
	const strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	manifest := func(image, paused string) string {
		return rolloutManifest(3, image, strategy, "  progressDeadlineSeconds: 60\n  paused: "+paused+"\n")
	}
	l := scripted(t)
	l.Apply(manifest("nginx:1.25", "false"))
	l.Settle()
	readyAll(l)
	l.Settle()
	l.Apply(manifest("nginx:1.26", "true"))
	l.Settle()
	if p := progressing(webDeployment(l)); p == nil || p.Status != corev1.ConditionUnknown || p.Reason != "DeploymentPaused" {
		t.Fatalf("paused: %+v", p)
	}
	if live, _ := podsByImage(l); live["nginx:1.26"] != 0 {
		t.Errorf("a paused deployment rolled out: %v", live)
	}
	if next, ok := l.NextWake(); ok {
		t.Errorf("a paused deployment wakes at %s", next)
	}
	l.Advance(time.Hour)
	l.Apply(manifest("nginx:1.26", "false"))
	resumed := l.Now
	l.Settle()
	p := progressing(webDeployment(l))
	if p == nil || p.Status == corev1.ConditionFalse || !p.LastUpdateTime.Time.Equal(resumed) {
		t.Fatalf("resumed: %+v, want a running deadline from %s", p, resumed)
	}
	if next, ok := l.NextWake(); !ok || !next.Equal(resumed.Add(61*time.Second)) {
		t.Errorf("next wake-up %s %v, want %s", next, ok, resumed.Add(61*time.Second))
	}
}

// The Deployment's annotations but Kubernetes' own (last-applied, revision) are
// copied to the ReplicaSet of its template, change cause included, at creation
// and when they change; minReadySeconds follows too.
func TestScriptChangeCauseAndMinReadySecondsReachTheReplicaSet(t *testing.T) {
	manifest := func(cause string, minReady int) string {
		m := rolloutManifest(1, "nginx:1.25", "{}", fmt.Sprintf("  minReadySeconds: %d\n", minReady))
		return strings.Replace(m, "metadata: {name: web}", `metadata: {name: web, annotations: {kubernetes.io/change-cause: "`+cause+`", deployment.kubernetes.io/revision: "9"}}`, 1)
	}
	l := scripted(t)
	l.Apply(manifest("first", 0))
	l.Settle()
	rs := func() *appsv1.ReplicaSet {
		return l.Get(events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: newestName(l)}).Object.(*appsv1.ReplicaSet)
	}
	if a := rs().Annotations; a[deployment.ChangeCauseAnnotation] != "first" || a[deployment.RevisionAnnotation] != "1" {
		t.Errorf("created with annotations %v, want change cause first, revision 1", a)
	}
	l.Apply(manifest("second", 5))
	l.Settle()
	if r := rs(); r.Annotations[deployment.ChangeCauseAnnotation] != "second" || r.Annotations[deployment.RevisionAnnotation] != "1" || r.Spec.MinReadySeconds != 5 {
		t.Errorf("after the change: annotations %v minReadySeconds %d, want change cause second, revision 1, 5", r.Annotations, r.Spec.MinReadySeconds)
	}
	if n := len(l.List("ReplicaSet", "default")); n != 1 {
		t.Errorf("%d replicasets: an annotation made a new one", n)
	}
}
