// Package object holds the kinds of objects wake serves: their registry, the strict
// decoding of the manifests people write, defaults, validation, the explicit list of
// which fields wake enforces, and the pure folds that turn events into objects.
//
// The types themselves are Kubernetes' own (k8s.io/api), so field names, JSON and
// YAML forms are exactly what kubectl users know.
package object

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is any served object: typed Kubernetes struct with metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Kind describes one served kind. Kinds are registered once at init and never change.
type Kind struct {
	Kind       string // "Deployment"
	Group      string // "apps"; "" for the core group
	Version    string // "v1"
	Resource   string // plural resource name, "deployments"
	Short      []string
	Namespaced bool
	// HasSpec is true for kinds whose metadata.generation counts spec changes.
	HasSpec bool
	newFn   func() Object
}

// APIVersion returns group/version ("v1" for the core group).
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// Token is the lowercase kind used in subjects and event types ("deployment").
func (k *Kind) Token() string { return strings.ToLower(k.Kind) }

// Qualified returns kubectl's resource-qualified name: "deployment.apps/web", "pod/x".
func (k *Kind) Qualified(name string) string {
	if k.Group == "" {
		return k.Token() + "/" + name
	}
	return k.Token() + "." + k.Group + "/" + name
}

// New returns an empty object of the kind with apiVersion and kind set.
func (k *Kind) New() Object {
	o := k.newFn()
	o.GetObjectKind().SetGroupVersionKind(schemaGVK(k))
	return o
}

var kinds = []*Kind{
	{Kind: "Namespace", Version: "v1", Resource: "namespaces", Short: []string{"ns"}, newFn: func() Object { return &corev1.Namespace{} }},
	{Kind: "Node", Version: "v1", Resource: "nodes", Short: []string{"no"}, HasSpec: true, newFn: func() Object { return &corev1.Node{} }},
	{Kind: "Pod", Version: "v1", Resource: "pods", Short: []string{"po"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &corev1.Pod{} }},
	{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Short: []string{"deploy"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &appsv1.Deployment{} }},
	{Kind: "ReplicaSet", Group: "apps", Version: "v1", Resource: "replicasets", Short: []string{"rs"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &appsv1.ReplicaSet{} }},
	{Kind: "Service", Version: "v1", Resource: "services", Short: []string{"svc"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &corev1.Service{} }},
	{Kind: "Endpoints", Version: "v1", Resource: "endpoints", Short: []string{"ep"}, Namespaced: true, newFn: func() Object { return &corev1.Endpoints{} }},
	{Kind: "ConfigMap", Version: "v1", Resource: "configmaps", Short: []string{"cm"}, Namespaced: true, newFn: func() Object { return &corev1.ConfigMap{} }},
	{Kind: "Secret", Version: "v1", Resource: "secrets", Namespaced: true, newFn: func() Object { return &corev1.Secret{} }},
	{Kind: "EndpointSlice", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Namespaced: true, newFn: func() Object { return &discoveryv1.EndpointSlice{} }},
	{Kind: "IngressClass", Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses", HasSpec: true, newFn: func() Object { return &networkingv1.IngressClass{} }},
	{Kind: "Ingress", Group: "networking.k8s.io", Version: "v1", Resource: "ingresses", Short: []string{"ing"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &networkingv1.Ingress{} }},
	{Kind: "PersistentVolume", Version: "v1", Resource: "persistentvolumes", Short: []string{"pv"}, HasSpec: true, newFn: func() Object { return &corev1.PersistentVolume{} }},
	{Kind: "PersistentVolumeClaim", Version: "v1", Resource: "persistentvolumeclaims", Short: []string{"pvc"}, Namespaced: true, HasSpec: true, newFn: func() Object { return &corev1.PersistentVolumeClaim{} }},
	{Kind: "StorageClass", Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses", Short: []string{"sc"}, newFn: func() Object { return &storagev1.StorageClass{} }},
}

var byName = map[string]*Kind{}

func init() {
	for _, k := range kinds {
		for _, n := range append([]string{strings.ToLower(k.Kind), k.Resource, k.Resource + "." + k.Group}, k.Short...) {
			byName[n] = k
		}
		byName[strings.ToLower(k.Kind)+"."+k.Group] = k
	}
}

// Kinds returns every served kind in a stable order.
func Kinds() []*Kind { return kinds }

// Lookup resolves what a person types for a kind: the kind ("Deployment",
// "deployment"), the plural ("deployments"), a short form ("deploy"), or any of
// these qualified with the group ("deployments.apps"). It is case-insensitive.
func Lookup(name string) (*Kind, error) {
	if k, ok := byName[strings.ToLower(name)]; ok {
		return k, nil
	}
	return nil, &UnknownKindError{Name: name}
}

// ByKind returns the kind registered under its exact Kind name ("Deployment").
func ByKind(kind string) (*Kind, bool) {
	for _, k := range kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return nil, false
}

// UnknownKindError is returned for a kind that wake does not serve.
type UnknownKindError struct{ Name string }

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("the server doesn't have a resource type %q (wake serves: %s)", e.Name, ServedList())
}

// ServedList names the served kinds with their apiVersions, for error messages.
func ServedList() string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.Kind+" ("+k.APIVersion()+")")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
