package controlplanetest

import (
	"context"
	"testing"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
)

// LivePods returns the pods of namespace that are not being deleted, by name.
func LivePods(tb testing.TB, c *client.Client, namespace string) map[string]*corev1.Pod {
	tb.Helper()
	k, _ := object.ByKind("Pod")
	objs, _, err := c.Query.List(context.Background(), k, namespace, "")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*corev1.Pod{}
	for _, o := range objs {
		if p := o.(*corev1.Pod); p.DeletionTimestamp == nil {
			out[p.Name] = p
		}
	}
	return out
}
