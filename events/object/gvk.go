package object

import "k8s.io/apimachinery/pkg/runtime/schema"

func schemaGVK(k *Kind) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}
