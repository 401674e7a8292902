package client_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
)

// change is one change a watch delivered: type, name and the ConfigMap's data.v.
type change struct{ typ, name, data string }

// watcher runs client.Watch of ConfigMaps in default until the test ends, and
// collects what it delivers.
type watcher struct {
	mu      sync.Mutex
	initial []string
	got     []change
	changed chan struct{}
}

// startWatch starts a watch; duringList runs after the list and before the watch
// follows the log, where a change must not be missed either.
func startWatch(t *testing.T, c *client.Client, selector string, duringList func()) *watcher {
	t.Helper()
	w := &watcher{changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	listed := make(chan struct{})
	done := make(chan error, 1)
	k, _ := object.Lookup("cm")
	go func() {
		done <- c.Watch(ctx, k, "default", selector, func(objs []object.Object) error {
			for _, o := range objs {
				w.initial = append(w.initial, o.GetName())
			}
			duringList()
			close(listed)
			return nil
		}, func(typ string, obj object.Object) error {
			w.mu.Lock()
			w.got = append(w.got, change{typ, obj.GetName(), obj.(*corev1.ConfigMap).Data["v"]})
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("watch ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("watch did not stop within 10s of its context ending")
		}
	})
	select {
	case <-listed:
	case err := <-done:
		t.Fatalf("watch failed before listing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not list within 10s")
	}
	return w
}

// waitFor waits until the watch has delivered n changes, then a little longer to
// catch extra ones, and returns them.
func (w *watcher) waitFor(t *testing.T, n int) []change {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		got := slices.Clone(w.got)
		w.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-w.changed:
		case <-deadline:
			t.Fatalf("watch delivered %d changes, want %d: %v", len(got), n, got)
		}
	}
}

func TestWatchDeliversEveryChangeAfterTheList(t *testing.T) {
	_, c := start(t)
	write(t, c, cm("before", "app: web", "0"))
	w := startWatch(t, c, "", func() {
		write(t, c, cm("between", "app: web", "0"))
	})
	if !slices.Equal(w.initial, []string{"before"}) {
		t.Fatalf("initial list = %v, want [before]", w.initial)
	}
	var want []change
	want = append(want, change{client.Added, "between", "0"})
	for i := range 30 {
		name := fmt.Sprintf("cm-%02d", i)
		write(t, c, cm(name, "app: web", "0"))
		want = append(want, change{client.Added, name, "0"})
	}
	for i := 1; i <= 3; i++ {
		write(t, c, cm("before", "app: web", fmt.Sprint(i)))
		want = append(want, change{client.Modified, "before", fmt.Sprint(i)})
	}
	k, _ := object.Lookup("cm")
	for _, name := range []string{"before", "cm-07", "between"} {
		if err := c.Delete(context.Background(), k, "default", name); err != nil {
			t.Fatal(err)
		}
		data := "0"
		if name == "before" {
			data = "3"
		}
		want = append(want, change{client.Deleted, name, data})
	}
	got := w.waitFor(t, len(want))
	time.Sleep(200 * time.Millisecond) // nothing more may come
	w.mu.Lock()
	got = slices.Clone(w.got)
	w.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("watch delivered\n%v\nwant\n%v", got, want)
	}
}

// TestWatchWithASelector: objects that come to match the selector after the
// list are delivered too, and those that stop matching are reported.
func TestWatchWithASelector(t *testing.T) {
	_, c := start(t)
	write(t, c, cm("web", "app: web", "0"))
	write(t, c, cm("db", "app: db", "0"))
	w := startWatch(t, c, "app=web", func() {})
	if !slices.Equal(w.initial, []string{"web"}) {
		t.Fatalf("initial list = %v, want [web]", w.initial)
	}
	write(t, c, cm("db", "app: db", "1"))  // still not matching: nothing
	write(t, c, cm("db", "app: web", "2")) // comes to match
	write(t, c, cm("web", "app: db", "1")) // stops matching: DELETED in its last matching state
	write(t, c, cm("new", "app: web", "0"))
	want := []change{{client.Added, "db", "2"}, {client.Deleted, "web", "0"}, {client.Added, "new", "0"}}
	got := w.waitFor(t, len(want))
	time.Sleep(200 * time.Millisecond)
	w.mu.Lock()
	got = slices.Clone(w.got)
	w.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("watch -l app=web delivered\n%v\nwant\n%v", got, want)
	}
}

// TestWatchEndsQuietlyWithItsContext: a watch whose context ends at any point
// (here: right after the list, before it follows the log) returns nil, so
// `wake get -w` stopped by Ctrl-C prints no error.
func TestWatchEndsQuietlyWithItsContext(t *testing.T) {
	_, c := start(t)
	k, _ := object.Lookup("cm")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := c.Watch(ctx, k, "default", "", func([]object.Object) error { cancel(); return nil },
		func(string, object.Object) error { return nil })
	if err != nil {
		t.Errorf("watch cancelled after its list = %v, want nil", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := c.Watch(ctx, k, "default", "", func([]object.Object) error { return nil },
		func(string, object.Object) error { return nil }); err != nil {
		t.Errorf("watch with an ended context = %v, want nil", err)
	}
}
