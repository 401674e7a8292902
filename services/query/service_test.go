package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

func kind(t *testing.T, name string) *object.Kind {
	t.Helper()
	k, err := object.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func configMap(ns, name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, UID: uuid.NewUUID()}, Data: data}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	return cm
}

// changeEvent is a created/updated event of obj as a writer appends it.
func changeEvent(t *testing.T, k *object.Kind, verb string, obj object.Object) *events.Event {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.New(object.EventType(k, verb), events.Ref{Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()},
		"user:test", &object.Change{Object: raw})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func names(objs []object.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func TestGetAndListWithSelectors(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	controlplanetest.Apply(t, c, `apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {app: web, tier: fe}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {app: web, tier: be}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {app: db}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d}
`)
	ctx := context.Background()
	cm := kind(t, "cm")
	st, err := c.Query.Get(ctx, cm, "default", "b")
	if err != nil {
		t.Fatal(err)
	}
	if st.Object.GetName() != "b" || st.Object.GetLabels()["tier"] != "be" || st.Object.GetUID() == "" {
		t.Errorf("get b = %+v", st.Object)
	}
	if len(st.LastApplied) == 0 {
		t.Errorf("get b lacks the last applied configuration")
	}
	cases := []struct {
		selector string
		want     []string
	}{
		{"", []string{"a", "b", "c", "d"}},
		{"app=web", []string{"a", "b"}},
		{"app==web", []string{"a", "b"}},
		{"app!=web", []string{"c", "d"}},
		{"app=web,tier=be", []string{"b"}},
		{"tier in (fe,be)", []string{"a", "b"}},
		{"app in (db)", []string{"c"}},
		{"tier notin (fe)", []string{"b", "c", "d"}},
		{"!tier", []string{"c", "d"}},
		{"tier", []string{"a", "b"}},
		{"app,!tier", []string{"c"}},
		{"app=nothing", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.selector, func(t *testing.T) {
			objs, cp, err := c.Query.List(ctx, cm, "default", tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{}
			for _, n := range tc.want {
				want = append(want, "default/"+n)
			}
			if got := names(objs); !reflect.DeepEqual(got, want) {
				t.Errorf("list -l %q = %v, want %v", tc.selector, got, want)
			}
			if cp == 0 {
				t.Errorf("checkpoint = 0")
			}
		})
	}
	var re *query.RemoteError
	if _, _, err := c.Query.List(ctx, cm, "default", "app in (a"); !errors.As(err, &re) || re.Code != query.CodeBadRequest {
		t.Errorf("list with a malformed selector = %v, want a BadRequest", err)
	}
	if _, err := c.Query.Get(ctx, &object.Kind{Kind: "Widget"}, "default", "x"); !errors.As(err, &re) || re.Code != query.CodeBadRequest {
		t.Errorf("get of an unknown kind = %v, want a BadRequest", err)
	}
}

func TestListAcrossNamespacesAndClusterScope(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	controlplanetest.Apply(t, c, `apiVersion: v1
kind: ConfigMap
metadata: {name: z, namespace: default}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {zone: a}}
`)
	ctx := context.Background()
	cm := kind(t, "configmaps")
	all, _, err := c.Query.List(ctx, cm, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(all), []string{"default/z", "shop/a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("list -A = %v, want %v", got, want)
	}
	shop, _, err := c.Query.List(ctx, cm, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(shop), []string{"shop/a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("list -n shop = %v, want %v", got, want)
	}
	if _, err := c.Query.Get(ctx, cm, "default", "a"); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("get a in default = %v, want not found (it lives in shop)", err)
	}

	nss, _, err := c.Query.List(ctx, kind(t, "ns"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(nss), []string{"/default", "/shop"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces = %v, want %v", got, want)
	}
	no := kind(t, "no")
	// A namespace given for a cluster-scoped kind is ignored, as kubectl does.
	nodes, _, err := c.Query.List(ctx, no, "shop", "zone=a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(nodes), []string{"/node-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes = %v, want %v", got, want)
	}
	if st, err := c.Query.Get(ctx, no, "default", "node-1"); err != nil || st.Object.GetNamespace() != "" {
		t.Errorf("get node-1 with a namespace = %v, %v", st, err)
	}
}

// TestListLargerThanOneReply lists 3000 ConfigMaps of 1 KB: more than one reply
// message carries them, and every one comes back, in name order.
func TestListLargerThanOneReply(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: bulk}\n")
	k := kind(t, "ConfigMap")
	const n = 3000
	order := rand.New(rand.NewPCG(1, 2)).Perm(n) // appended out of name order
	filler := strings.Repeat("x", 1024)
	p := srv.Log().Pipeline()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, i := range order {
		cm := configMap("bulk", fmt.Sprintf("cm-%04d", i), map[string]string{"i": strconv.Itoa(i % 2)}, map[string]string{"filler": filler})
		if err := p.Append(changeEvent(t, k, object.Created, cm), 0); err != nil {
			t.Fatal(err)
		}
		if p.Len() >= 500 {
			waitAll(ctx, t, p)
		}
	}
	waitAll(ctx, t, p)
	// 3,000 events may take the projection longer to fold than one request
	// waits (under -race on a loaded machine): only that is worth a retry.
	for {
		_, _, err := c.Query.List(ctx, k, "bulk", "i=none")
		var remote *query.RemoteError
		if !errors.As(err, &remote) || remote.Code != query.CodeTimeout || ctx.Err() != nil {
			break
		}
	}

	objs, _, err := c.Query.List(ctx, k, "bulk", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != n {
		t.Fatalf("listed %d ConfigMaps, want %d", len(objs), n)
	}
	for i, o := range objs {
		if want := fmt.Sprintf("cm-%04d", i); o.GetName() != want {
			t.Fatalf("item %d = %s, want %s (name order)", i, o.GetName(), want)
		}
		if d := o.(*corev1.ConfigMap).Data["filler"]; len(d) != 1024 {
			t.Fatalf("%s data = %d bytes, want 1024", o.GetName(), len(d))
		}
	}
	odd, _, err := c.Query.List(ctx, k, "bulk", "i=1")
	if err != nil {
		t.Fatal(err)
	}
	if len(odd) != n/2 {
		t.Errorf("list -l i=1 = %d items, want %d", len(odd), n/2)
	}

	// The same list on the wire: several messages, each within the NATS payload limit.
	msgs := rawList(ctx, t, c, query.Request{Kind: "ConfigMap", Namespace: "bulk"})
	if len(msgs) < 2 {
		t.Errorf("3 MB came back in %d message(s), want several chunks", len(msgs))
	}
	items := 0
	for i, m := range msgs {
		if len(m.data) > 1<<20 {
			t.Errorf("message %d is %d bytes, over 1 MiB", i, len(m.data))
		}
		if m.resp.Done != (i == len(msgs)-1) {
			t.Errorf("message %d: done = %v", i, m.resp.Done)
		}
		items += len(m.resp.Items)
	}
	if items != n {
		t.Errorf("chunks carry %d items, want %d", items, n)
	}
}

func waitAll(ctx context.Context, t *testing.T, p *events.Pipeline) {
	t.Helper()
	res, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

type rawMsg struct {
	data []byte
	resp query.Response
}

func rawList(ctx context.Context, t *testing.T, c *client.Client, req query.Request) []rawMsg {
	t.Helper()
	data, _ := json.Marshal(req)
	inbox := c.NC.NewRespInbox()
	sub, err := c.NC.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := c.NC.PublishRequest(query.SubjectList, inbox, data); err != nil {
		t.Fatal(err)
	}
	var out []rawMsg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(out), err)
		}
		var r query.Response
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, rawMsg{data: m.Data, resp: r})
		if r.Done {
			return out
		}
	}
}

func TestNotFoundCarriesTheTombstoneVersion(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	k := kind(t, "cm")
	var nf *query.NotFoundError
	if _, err := c.Query.Get(ctx, k, "default", "gone"); !errors.As(err, &nf) || nf.Version != 0 {
		t.Fatalf("get of an object that never existed = %v, want NotFound with version 0", err)
	}
	if !errors.Is(nf, query.ErrNotFound) || nf.Error() != `configmaps "gone" not found` {
		t.Errorf("NotFoundError = %q", nf.Error())
	}
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n")
	if err := c.Delete(ctx, k, "default", "gone"); err != nil {
		t.Fatal(err)
	}
	deletedAt, err := srv.Log().SubjectVersion(ctx, events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "gone"})
	if err != nil || deletedAt == 0 {
		t.Fatalf("subject version = %d, %v", deletedAt, err)
	}
	if _, err := c.Query.Get(ctx, k, "default", "gone"); !errors.As(err, &nf) || nf.Version != deletedAt {
		t.Fatalf("get after delete = %v (version %d), want NotFound with version %d", err, nf.Version, deletedAt)
	}
	// The version is what a writer guards a re-creation with.
	res := controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n")
	if res[0].Outcome != object.OutcomeCreated || res[0].Seq <= deletedAt {
		t.Errorf("re-create = %+v", res[0])
	}
}

func TestReadYourWrites(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	k := kind(t, "cm")
	cm := configMap("default", "counter", nil, map[string]string{"n": "0"})
	version, err := srv.Log().Append(ctx, changeEvent(t, k, object.Created, cm), 0)
	if err != nil {
		t.Fatal(err)
	}
	// A separate connection: the writer's and the reader's paths share nothing but the server.
	reader, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for i := 1; i <= 200; i++ {
		cm.Data["n"] = strconv.Itoa(i)
		seq, err := c.Log.Append(ctx, changeEvent(t, k, object.Updated, cm), version)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		version = seq
		st, err := reader.Query.Get(ctx, k, "default", "counter")
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if got := st.Object.(*corev1.ConfigMap).Data["n"]; got != strconv.Itoa(i) || st.Object.GetResourceVersion() != strconv.FormatUint(seq, 10) {
			t.Fatalf("round %d: get right after append shows n=%s at version %s, want n=%d at %d",
				i, got, st.Object.GetResourceVersion(), i, seq)
		}
	}
}

func TestEventsOfAnObject(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	c.Reason = "wake apply -f cm.yaml"
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {k: v1}\n")
	c.Actor, c.Reason = "user:bob", "wake apply -f cm2.yaml"
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {k: v2}\n")
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")

	k := kind(t, "cm")
	evs, err := c.Query.Events(ctx, k, "default", "cfg", 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ typ, actor, reason string }
	var got []row
	for _, e := range evs {
		got = append(got, row{e.Type, e.Actor, e.Reason})
		if e.ID == "" || e.Seq == 0 || e.Time.IsZero() || e.Correlation == "" {
			t.Errorf("event summary lacks id, seq, time or correlation: %+v", e)
		}
	}
	want := []row{{"configmap.created", "user:alice", "wake apply -f cm.yaml"}, {"configmap.updated", "user:bob", "wake apply -f cm2.yaml"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %+v, want %+v (oldest first)", got, want)
	}
	if len(evs) == 2 && evs[0].Seq >= evs[1].Seq {
		t.Errorf("events not oldest first: %d, %d", evs[0].Seq, evs[1].Seq)
	}
	last, err := c.Query.Events(ctx, k, "default", "cfg", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].Type != "configmap.updated" {
		t.Errorf("events limit 1 = %+v, want the newest only", last)
	}
	if err := c.Delete(ctx, k, "default", "cfg"); err != nil {
		t.Fatal(err)
	}
	if evs, err := c.Query.Events(ctx, k, "default", "cfg", 0); err != nil || len(evs) != 0 {
		t.Errorf("events of a deleted object = %+v, %v; want none", evs, err)
	}
	if !slices.ContainsFunc(evs, func(e query.EventSummary) bool { return e.Type == "configmap.created" }) {
		t.Errorf("events lost the creation")
	}
}
