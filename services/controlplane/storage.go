package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// DefaultStorageClass is the StorageClass a new cluster starts with, as k3s
// ships local-path: the default class, of the built-in local-path provisioner
// (a directory on the node of the claim's first pod), WaitForFirstConsumer,
// reclaim policy Delete.
const DefaultStorageClass = "local-path"

// ensureDefaultStorageClass creates DefaultStorageClass when its subject has
// never held an event: a class someone deleted stays deleted. The append is
// guarded by the subject's version, so two servers starting at once create it
// once.
func (s *Server) ensureDefaultStorageClass(ctx context.Context) error {
	k, _ := object.ByKind("StorageClass")
	_, err := query.NewClient(s.nc).Get(ctx, k, "", DefaultStorageClass)
	var nf *query.NotFoundError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &nf):
		return fmt.Errorf("default StorageClass: %w", err)
	case nf.Version != 0:
		return nil
	}
	wffc, del := storagev1.VolumeBindingWaitForFirstConsumer, corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultStorageClass, UID: uuid.NewUUID(),
			Annotations: map[string]string{object.DefaultClassAnnotation: "true"}},
		Provisioner: object.LocalPathProvisioner, ReclaimPolicy: &del, VolumeBindingMode: &wffc,
	}
	sc.SetGroupVersionKind(storagev1.SchemeGroupVersion.WithKind("StorageClass"))
	ev, err := events.New(object.EventType(k, object.Created), events.Ref{Kind: "StorageClass", Name: sc.Name}, Actor,
		&object.Change{Object: mustJSON(sc)})
	if err != nil {
		return err
	}
	ev.Reason = "the built-in local-path StorageClass exists from the start"
	if _, err := s.log.Append(ctx, ev, 0); err != nil && !errors.Is(err, events.ErrConflict) {
		return fmt.Errorf("create the default StorageClass: %w", err)
	}
	return nil
}
