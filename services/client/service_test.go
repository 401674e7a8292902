package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
)

// Writers that allocate at the same moment cannot both take one address: a
// Service's write is guarded by every Service, so the later decides again from
// the Services that include the earlier, and is refused.
func TestConcurrentServiceWritesAllocateOnce(t *testing.T) {
	_, c := start(t)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := docs(t, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: s%d}\nspec:\n  type: NodePort\n  clusterIP: 10.96.0.77\n  ports: [{port: 80, nodePort: 30077}]\n", i))[0]
			_, errs[i] = c.Write(context.Background(), &d, client.ModeCreate)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, object.ErrInvalid):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers took 10.96.0.77 and node port 30077, want 1: %v", won, errs)
	}
	// Dynamic allocations at once get distinct addresses.
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := docs(t, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: d%d}\nspec:\n  type: NodePort\n  ports: [{port: 80}]\n", i))[0]
			_, errs[i] = c.Write(context.Background(), &d, client.ModeCreate)
		}()
	}
	wg.Wait()
	k, _ := object.ByKind("Service")
	all, _, err := c.Query.List(context.Background(), k, "default", "")
	if err != nil {
		t.Fatal(err)
	}
	ips, ports := map[string]string{}, map[int32]string{}
	for _, o := range all {
		s := o.(*corev1.Service)
		if other := ips[s.Spec.ClusterIP]; other != "" {
			t.Errorf("%s and %s share cluster IP %s", other, s.Name, s.Spec.ClusterIP)
		}
		ips[s.Spec.ClusterIP] = s.Name
		if other := ports[s.Spec.Ports[0].NodePort]; other != "" {
			t.Errorf("%s and %s share node port %d", other, s.Name, s.Spec.Ports[0].NodePort)
		}
		ports[s.Spec.Ports[0].NodePort] = s.Name
	}
	if len(all) != writers+1 {
		t.Errorf("%d services, want %d (errors: %v)", len(all), writers+1, errs)
	}
}
