package printer

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// scheme knows the built-in k8s.io/api types, so that objects without
// TypeMeta still get a kind, and unstructured objects of a known kind can be
// printed with that kind's columns.
var scheme = newScheme()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		networkingv1.AddToScheme,
		discoveryv1.AddToScheme,
		rbacv1.AddToScheme,
		storagev1.AddToScheme,
	} {
		utilruntime.Must(add(s))
	}
	return s
}

// kindOf returns obj's GroupVersionKind from its TypeMeta or, when that is
// empty, from the scheme. The zero value means unknown.
func kindOf(obj runtime.Object) schema.GroupVersionKind {
	if obj == nil {
		return schema.GroupVersionKind{}
	}
	if gvk := obj.GetObjectKind().GroupVersionKind(); gvk.Kind != "" {
		return gvk
	}
	if gvks, _, err := scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
		return gvks[0]
	}
	return schema.GroupVersionKind{}
}

// groupKindOf is kindOf for grouping tables; unknown kinds are keyed by Go
// type name so that they still group together.
func groupKindOf(obj runtime.Object) schema.GroupKind {
	if gvk := kindOf(obj); gvk.Kind != "" {
		return gvk.GroupKind()
	}
	t := reflect.TypeOf(obj)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return schema.GroupKind{Kind: "Unknown"}
	}
	return schema.GroupKind{Kind: t.Name()}
}

// typed converts an unstructured object of a kind known to the scheme into
// its typed form, so it prints with that kind's columns; anything else is
// returned unchanged.
func typed(obj runtime.Object) runtime.Object {
	u, ok := obj.(runtime.Unstructured)
	if !ok {
		return obj
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if !scheme.Recognizes(gvk) {
		return obj
	}
	out, err := scheme.New(gvk)
	if err != nil {
		return obj
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), out); err != nil {
		return obj
	}
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out
}

// clusterScopedKinds are the built-in kinds without a namespace; tables of
// these kinds never get a NAMESPACE column.
var clusterScopedKinds = map[schema.GroupKind]bool{
	{Kind: "Namespace"}:        true,
	{Kind: "Node"}:             true,
	{Kind: "PersistentVolume"}: true,
	{Kind: "ComponentStatus"}:  true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                       true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                 true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                    true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                      true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                             true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                              true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                             true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                    true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:               true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                           true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:               true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: true,
}

// isClusterScoped reports whether objects of gk have no namespace. Kinds
// unknown to the scheme count as cluster-scoped when none of the given
// objects has a namespace.
func isClusterScoped(gk schema.GroupKind, rows []tableRow) bool {
	if clusterScopedKinds[gk] {
		return true
	}
	for gvk := range scheme.AllKnownTypes() {
		if gvk.GroupKind() == gk {
			return false
		}
	}
	for _, r := range rows {
		if r.namespace != "" {
			return false
		}
	}
	return true
}
