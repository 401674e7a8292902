package printer

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var deploymentTable = tableKind{
	columns: []column{
		{name: "Name"},
		{name: "Ready"},
		{name: "Up-to-date"},
		{name: "Available"},
		{name: "Age"},
		{name: "Containers", wide: true},
		{name: "Images", wide: true},
		{name: "Selector", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return nil, fmt.Errorf("expected *apps/v1.Deployment, got %T", obj)
		}
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		return []string{
			d.Name,
			fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOrDefault(d.Spec.Replicas)),
			strconv.Itoa(int(d.Status.UpdatedReplicas)),
			strconv.Itoa(int(d.Status.AvailableReplicas)),
			Age(d.CreationTimestamp.Time, ctx.now),
			names,
			images,
			selectorString(d.Spec.Selector),
		}, nil
	},
}

var replicaSetTable = tableKind{
	columns: []column{
		{name: "Name"},
		{name: "Desired"},
		{name: "Current"},
		{name: "Ready"},
		{name: "Age"},
		{name: "Containers", wide: true},
		{name: "Images", wide: true},
		{name: "Selector", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		rs, ok := obj.(*appsv1.ReplicaSet)
		if !ok {
			return nil, fmt.Errorf("expected *apps/v1.ReplicaSet, got %T", obj)
		}
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []string{
			rs.Name,
			strconv.Itoa(int(replicasOrDefault(rs.Spec.Replicas))),
			strconv.Itoa(int(rs.Status.Replicas)),
			strconv.Itoa(int(rs.Status.ReadyReplicas)),
			Age(rs.CreationTimestamp.Time, ctx.now),
			names,
			images,
			metav1.FormatLabelSelector(rs.Spec.Selector),
		}, nil
	},
}

// replicasOrDefault applies the API default of 1 replica to a nil field.
func replicasOrDefault(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// containerCells lays out container names and images comma-separated, as
// kubectl's CONTAINERS and IMAGES columns.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// selectorString renders a label selector like kubectl's Deployment
// SELECTOR column ("app=web", "<invalid>" for an unparsable selector).
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}
