package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/secrets"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ConfigProjection is the agent's read model of the cluster's ConfigMaps and
// Secrets, folded from the stream of record (ev.configmap.*.*, ev.secret.*.*),
// so the pods of this node read them without asking anyone, and a change
// reaches the pods that use it within a commit of the projection.
//
// Secrets are kept exactly as the log holds them: sealed (see services/secrets).
// The agent opens one only when a pod of this node needs it, by asking the query
// service, and keeps the clear text in memory and on tmpfs only.
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> object.Stored.
func ConfigProjection() projections.Projection {
	return projections.Projection{Name: "agent-config", Version: 1, Fold: ConfigFold,
		Subjects: []string{events.KindSubjects("ConfigMap", "", false), events.KindSubjects("Secret", "", false)}}
}

func configKey(kind, ns, name string) []byte {
	return []byte("o\x00" + strings.ToLower(kind) + "\x00" + ns + "\x00" + name)
}

// ConfigFold folds the ConfigMap and Secret events of the log. It is pure over s.
func ConfigFold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || (k.Kind != "ConfigMap" && k.Kind != "Secret") || ev.Object.Node != "" {
		return fmt.Errorf("%w: the agent's config projection folds ConfigMaps and Secrets, not %s", object.ErrFold, ev.Object)
	}
	key := configKey(k.Kind, ev.Object.Namespace, ev.Object.Name)
	_, _, err := object.FoldStored(s, k, key, ev)
	return err
}

// errConfigNotFound is wrapped by the errors of a ConfigMap or Secret that does
// not exist (yet).
var errConfigNotFound = errors.New("not found")

type notFoundError struct{ kind, name string }

func (e *notFoundError) Error() string   { return fmt.Sprintf("%s %q not found", e.kind, e.name) }
func (e *notFoundError) Is(t error) bool { return t == errConfigNotFound }

// configSource is what a pod's env and volumes read ConfigMaps and Secrets from.
type configSource interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// nodeConfig reads ConfigMaps from the agent's config projection and Secrets
// opened by the query service, cached in memory by version.
type nodeConfig struct {
	a   *Agent
	ctx context.Context
}

func (a *Agent) configSource(ctx context.Context) configSource { return nodeConfig{a: a, ctx: ctx} }

func (n nodeConfig) stored(kind, ns, name string) (*object.Stored, error) {
	k, _ := object.ByKind(kind)
	var st *object.Stored
	err := n.a.config.View(func(rd projections.Reader, _ uint64) error {
		raw, ok, err := rd.Get(configKey(kind, ns, name))
		if err != nil || !ok {
			return err
		}
		st, err = object.DecodeStored(k, raw)
		return err
	})
	if err == nil && st == nil {
		err = &notFoundError{kind: strings.ToLower(kind), name: name}
	}
	return st, err
}

func (n nodeConfig) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	st, err := n.stored("ConfigMap", ns, name)
	if err != nil {
		return nil, err
	}
	return st.Object.(*corev1.ConfigMap), nil
}

// Secret returns the Secret in clear text. A sealed one is opened by the query
// service once per version; the clear text stays in this process's memory.
func (n nodeConfig) Secret(ns, name string) (*corev1.Secret, error) {
	st, err := n.stored("Secret", ns, name)
	if err != nil {
		return nil, err
	}
	sec := st.Object.(*corev1.Secret)
	if sec.Annotations[secrets.SealedAnnotation] == "" {
		return sec, nil
	}
	key := ns + "/" + name
	c := &n.a.secretCache
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.version >= st.Version && e.uid == sec.UID {
		return e.secret, nil
	}
	k, _ := object.ByKind("Secret")
	open, err := n.a.query.Get(n.ctx, k, ns, name)
	if err != nil {
		return nil, fmt.Errorf("open secret %s/%s: %w", ns, name, err)
	}
	sec = open.Object.(*corev1.Secret)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]openedSecret{}
	}
	c.m[key] = openedSecret{version: open.Version, uid: sec.UID, secret: sec}
	c.mu.Unlock()
	return sec, nil
}

// secretCache holds the Secrets this node opened, in memory only.
type secretCache struct {
	mu sync.Mutex
	m  map[string]openedSecret // namespace/name
}

type openedSecret struct {
	version uint64
	uid     types.UID
	secret  *corev1.Secret
}

func (c *secretCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// onConfigTouched records the ConfigMaps and Secrets a commit of the config
// projection changed, and wakes the run loop, which hands the pods using them
// to their workers again (see markConfigUsers). It never blocks.
func (a *Agent) onConfigTouched(refs []events.Ref, _ uint64) {
	a.mu.Lock()
	a.configChanged = append(a.configChanged, refs...)
	a.mu.Unlock()
	select {
	case a.wakeup <- struct{}{}:
	default:
	}
}

// markConfigUsers marks as touched every assigned pod that uses a changed
// ConfigMap or Secret, so its worker refreshes its volumes (or starts the
// containers the object held back).
func (a *Agent) markConfigUsers() {
	a.mu.Lock()
	changed := a.configChanged
	a.configChanged = nil
	a.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	for _, r := range changed {
		if strings.EqualFold(r.Kind, "Secret") {
			a.secretCache.forget(r.Namespace + "/" + r.Name)
		}
	}
	var users []events.Ref
	_ = a.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("p\x00"), false, func(k, _ []byte) bool {
			parts := strings.SplitN(string(k[2:]), "\x00", 2)
			if len(parts) != 2 {
				return true
			}
			_, pod, err := assignment(rd, parts[0], parts[1])
			if err != nil || pod == nil {
				return true
			}
			for _, r := range changed {
				if r.Namespace == pod.Namespace && usesConfig(pod, r.Kind, r.Name) {
					users = append(users, events.Ref{Namespace: parts[0], Name: parts[1]})
					break
				}
			}
			return true
		})
	})
	a.mu.Lock()
	for _, r := range users {
		a.touched[r.Namespace+"/"+r.Name] = true
	}
	a.mu.Unlock()
}
