package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/ingress"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// IngressProjection is the agent's read model for its ingress proxy: the
// cluster's Ingresses, IngressClasses, Services and EndpointSlices, folded from
// the stream of record. (The service proxy builds a shared projection of
// Services and EndpointSlices in parallel; this one folds its own until they
// merge.)
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> object.Stored.
func IngressProjection() projections.Projection {
	return projections.Projection{Name: "agent-ingress", Version: 1, Fold: IngressFold,
		Subjects: []string{
			events.KindSubjects("Ingress", "", false),
			events.KindSubjects("IngressClass", "", true),
			events.KindSubjects("Service", "", false),
			events.KindSubjects("EndpointSlice", "", false),
		}}
}

var ingressKinds = map[string]bool{"Ingress": true, "IngressClass": true, "Service": true, "EndpointSlice": true}

// IngressFold folds the events of the kinds IngressProjection reads. It is
// pure over s.
func IngressFold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || !ingressKinds[k.Kind] || ev.Object.Node != "" {
		return fmt.Errorf("%w: the agent's ingress projection folds Ingresses, IngressClasses, Services and EndpointSlices, not %s", object.ErrFold, ev.Object)
	}
	key := configKey(k.Kind, ev.Object.Namespace, ev.Object.Name)
	_, _, err := object.FoldStored(s, k, key, ev)
	return err
}

// LoadIngressSnapshot reads what the proxy routes by from the projection.
func LoadIngressSnapshot(rd projections.Reader) (ingress.Snapshot, error) {
	snap := ingress.Snapshot{Classes: map[string]*networkingv1.IngressClass{}, Services: map[string]*corev1.Service{},
		Slices: map[string][]*discoveryv1.EndpointSlice{}}
	var ferr error
	err := rd.Scan([]byte("o\x00"), false, func(key, v []byte) bool {
		kind, _, _ := strings.Cut(string(key[2:]), "\x00")
		var k *object.Kind
		for name := range ingressKinds {
			if strings.ToLower(name) == kind {
				k, _ = object.ByKind(name)
			}
		}
		if k == nil {
			return true
		}
		st, err := object.DecodeStored(k, v)
		if err != nil {
			ferr = err
			return false
		}
		switch o := st.Object.(type) {
		case *networkingv1.Ingress:
			snap.Ingresses = append(snap.Ingresses, o)
		case *networkingv1.IngressClass:
			snap.Classes[o.Name] = o
		case *corev1.Service:
			snap.Services[o.Namespace+"/"+o.Name] = o
		case *discoveryv1.EndpointSlice:
			svc := o.Namespace + "/" + o.Labels[discoveryv1.LabelServiceName]
			snap.Slices[svc] = append(snap.Slices[svc], o)
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	return snap, err
}

// startIngress opens the ingress projection and starts the ingress proxy on
// the configured ports (none: no proxy, no projection), routing from the
// start by what the projection already holds; it serves until ingressStop.
// A port this node cannot bind is an error of Start.
func (a *Agent) startIngress(log *events.Log, opts []projections.Option) error {
	if a.cfg.IngressHTTP == "" && a.cfg.IngressHTTPS == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := ingress.NewProxy(func(ns, name string) (*corev1.Secret, error) {
		return a.configSource(ctx).Secret(ns, name)
	}, a.logger)
	if err != nil {
		cancel()
		return err
	}
	a.ingressProxy, a.ingressWake = p, make(chan struct{}, 1)
	a.ingress, err = projections.Open(filepath.Join(a.cfg.StateDir, "ingress"), IngressProjection(), log,
		append(opts, projections.WithLogger(a.logger), projections.WithTouched(a.onIngressTouched))...)
	if err != nil {
		cancel()
		return err
	}
	if err := a.updateIngress(); err != nil {
		cancel()
		return err
	}
	bound, stop, err := p.Listen(ctx, a.cfg.IngressHTTP, a.cfg.IngressHTTPS)
	if err != nil {
		cancel()
		return fmt.Errorf("node %s: %w", a.cfg.NodeName, err)
	}
	a.ingressAddrs = bound
	// Stopping closes the listeners before it returns: an agent started again
	// at once binds the same ports.
	a.ingressStop = func() { stop(); cancel() }
	return nil
}

// IngressAddrs are the addresses the ingress proxy listens on (HTTP first, then
// HTTPS, as configured).
func (a *Agent) IngressAddrs() []string { return a.ingressAddrs }

// onIngressTouched wakes the ingress refresher. It never blocks.
func (a *Agent) onIngressTouched([]events.Ref, uint64) {
	select {
	case a.ingressWake <- struct{}{}:
	default:
	}
}

// refreshIngress hands the proxy a new snapshot after every commit of the
// ingress projection, until ctx ends.
func (a *Agent) refreshIngress(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.ingressWake:
		}
		if err := a.updateIngress(); err != nil {
			a.logger.Error("ingress: cannot read the projection", "err", err)
		}
	}
}

// updateIngress hands the proxy what the projection holds now.
func (a *Agent) updateIngress() error {
	var snap ingress.Snapshot
	err := a.ingress.View(func(rd projections.Reader, _ uint64) error {
		var err error
		snap, err = LoadIngressSnapshot(rd)
		return err
	})
	if err == nil {
		a.ingressProxy.Update(snap)
	}
	return err
}
