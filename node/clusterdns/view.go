package clusterdns

import (
	"strings"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// view reads the projection. Every method treats an undecodable value as
// absent: a reader never fails a query for one bad object.
type view struct{ rd projections.Reader }

func (v view) get(kind, ns, name string) object.Object {
	k, _ := object.ByKind(kind)
	raw, ok, err := v.rd.Get(objectKey(k.Token(), ns, name))
	if err != nil || !ok {
		return nil
	}
	st, err := object.DecodeStored(k, raw)
	if err != nil {
		return nil
	}
	return st.Object
}

func (v view) namespaceExists(ns string) bool { return v.get("Namespace", "", ns) != nil }

func (v view) service(ns, name string) *corev1.Service {
	svc, _ := v.get("Service", ns, name).(*corev1.Service)
	return svc
}

// slices are the EndpointSlices labelled as the Service's, by name.
func (v view) slices(ns, svc string) []*discoveryv1.EndpointSlice {
	prefix := sliceIndexPrefix(ns, svc)
	var names []string
	_ = v.rd.Scan(prefix, false, func(k, _ []byte) bool {
		names = append(names, string(k[len(prefix):]))
		return true
	})
	var out []*discoveryv1.EndpointSlice
	for _, n := range names {
		if sl, ok := v.get("EndpointSlice", ns, n).(*discoveryv1.EndpointSlice); ok {
			out = append(out, sl)
		}
	}
	return out
}

// podsInSubdomain are the pods of ns whose spec.subdomain is subdomain and
// that have a hostname of their own, by name.
func (v view) podsInSubdomain(ns, subdomain string) []*corev1.Pod {
	k, _ := object.ByKind("Pod")
	var out []*corev1.Pod
	_ = v.rd.Scan(objectKey(k.Token(), ns, ""), false, func(_, raw []byte) bool {
		st, err := object.DecodeStored(k, raw)
		if err != nil {
			return true
		}
		if p, ok := st.Object.(*corev1.Pod); ok && strings.EqualFold(p.Spec.Subdomain, subdomain) && p.Spec.Hostname != "" {
			out = append(out, p)
		}
		return true
	})
	return out
}
