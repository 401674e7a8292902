package printer

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func (d describer) pod(pod *corev1.Pod) {
	w := d.w
	w.write(level0, "Name:\t%s\n", pod.Name)
	w.write(level0, "Namespace:\t%s\n", pod.Namespace)
	if pod.Spec.Priority != nil {
		w.write(level0, "Priority:\t%d\n", *pod.Spec.Priority)
	}
	if pod.Spec.PriorityClassName != "" {
		w.write(level0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
	}
	if pod.Spec.ServiceAccountName != "" {
		w.write(level0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
	}
	if pod.Spec.NodeName == "" {
		w.write(level0, "Node:\t<none>\n")
	} else {
		w.write(level0, "Node:\t%s\n", pod.Spec.NodeName+"/"+pod.Status.HostIP)
	}
	if pod.Status.StartTime != nil {
		w.write(level0, "Start Time:\t%s\n", timestamp(pod.Status.StartTime.Time))
	}
	d.labels("Labels", pod.Labels)
	d.annotations("Annotations", pod.Annotations)
	phase := pod.Status.Phase
	if phase == "" {
		phase = corev1.PodPending
	}
	if pod.DeletionTimestamp != nil && phase != corev1.PodFailed && phase != corev1.PodSucceeded {
		w.write(level0, "Status:\tTerminating (lasts %s)\n", Age(pod.DeletionTimestamp.Time, d.now))
		if pod.DeletionGracePeriodSeconds != nil {
			w.write(level0, "Termination Grace Period:\t%ds\n", *pod.DeletionGracePeriodSeconds)
		}
	} else {
		w.write(level0, "Status:\t%s\n", phase)
	}
	if pod.Status.Reason != "" {
		w.write(level0, "Reason:\t%s\n", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		w.write(level0, "Message:\t%s\n", pod.Status.Message)
	}
	w.write(level0, "IP:\t%s\n", podIP(pod))
	if len(pod.Status.PodIPs) == 0 {
		w.write(level0, "IPs:\t<none>\n")
	} else {
		w.write(level0, "IPs:\n")
		for _, ip := range pod.Status.PodIPs {
			w.write(level1, "IP:\t%s\n", ip.IP)
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		w.write(level0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	if pod.Status.NominatedNodeName != "" {
		w.write(level0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
	}
	if len(pod.Spec.InitContainers) > 0 {
		d.containers("Init Containers", pod.Spec.InitContainers, pod.Status.InitContainerStatuses, pod, "")
	}
	d.containers("Containers", pod.Spec.Containers, pod.Status.ContainerStatuses, pod, "")
	if len(pod.Spec.ReadinessGates) > 0 {
		w.write(level0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			status := "<none>"
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					status = string(c.Status)
					break
				}
			}
			w.write(level1, "%s \t%s \n", g.ConditionType, status)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		w.write(level0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			w.write(level1, "%s \t%s \n", c.Type, c.Status)
		}
	}
	d.volumes(pod.Spec.Volumes, "")
	w.write(level0, "QoS Class:\t%s\n", podQOS(pod))
	d.labels("Node-Selectors", pod.Spec.NodeSelector)
	d.tolerations("", "Tolerations", pod.Spec.Tolerations)
}

func (d describer) deployment(dep *appsv1.Deployment) {
	w := d.w
	w.write(level0, "Name:\t%s\n", dep.Name)
	w.write(level0, "Namespace:\t%s\n", dep.Namespace)
	w.write(level0, "CreationTimestamp:\t%s\n", timestamp(dep.CreationTimestamp.Time))
	d.labels("Labels", dep.Labels)
	d.annotations("Annotations", dep.Annotations)
	w.write(level0, "Selector:\t%s\n", selectorString(dep.Spec.Selector))
	w.write(level0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
		replicasOrDefault(dep.Spec.Replicas), dep.Status.UpdatedReplicas, dep.Status.Replicas,
		dep.Status.AvailableReplicas, dep.Status.UnavailableReplicas)
	strategy := dep.Spec.Strategy.Type
	if strategy == "" {
		strategy = appsv1.RollingUpdateDeploymentStrategyType
	}
	w.write(level0, "StrategyType:\t%s\n", strategy)
	w.write(level0, "MinReadySeconds:\t%d\n", dep.Spec.MinReadySeconds)
	if strategy == appsv1.RollingUpdateDeploymentStrategyType {
		unavailable, surge := defaultPercent, defaultPercent
		if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
			if ru.MaxUnavailable != nil {
				unavailable = *ru.MaxUnavailable
			}
			if ru.MaxSurge != nil {
				surge = *ru.MaxSurge
			}
		}
		w.write(level0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", unavailable.String(), surge.String())
	}
	d.podTemplate(&dep.Spec.Template)
	if len(dep.Status.Conditions) > 0 {
		w.write(level0, "Conditions:\n  Type\tStatus\tReason\n")
		w.write(level1, "----\t------\t------\n")
		for _, c := range dep.Status.Conditions {
			w.write(level1, "%s \t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
	d.deploymentReplicaSets(dep)
}

// defaultPercent is the API default for maxUnavailable and maxSurge.
var defaultPercent = intstr.FromString("25%")

func (d describer) replicaSet(rs *appsv1.ReplicaSet) {
	w := d.w
	w.write(level0, "Name:\t%s\n", rs.Name)
	w.write(level0, "Namespace:\t%s\n", rs.Namespace)
	w.write(level0, "Selector:\t%s\n", metav1.FormatLabelSelector(rs.Spec.Selector))
	d.labels("Labels", rs.Labels)
	d.annotations("Annotations", rs.Annotations)
	if ref := metav1.GetControllerOf(rs); ref != nil {
		w.write(level0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	w.write(level0, "Replicas:\t%d current / %d desired\n", rs.Status.Replicas, replicasOrDefault(rs.Spec.Replicas))
	d.podTemplate(&rs.Spec.Template)
	if len(rs.Status.Conditions) > 0 {
		w.write(level0, "Conditions:\n  Type\tStatus\tReason\n")
		w.write(level1, "----\t------\t------\n")
		for _, c := range rs.Status.Conditions {
			w.write(level1, "%s \t%s\t%s\n", c.Type, c.Status, c.Reason)
		}
	}
}

// podTemplate mirrors kubectl's DescribePodTemplate.
func (d describer) podTemplate(t *corev1.PodTemplateSpec) {
	w := d.w
	w.write(level0, "Pod Template:\n")
	d.labelsIndent("  ", "Labels", t.Labels)
	if len(t.Annotations) > 0 {
		d.annotations("  Annotations", t.Annotations)
	}
	if t.Spec.ServiceAccountName != "" {
		w.write(level1, "Service Account:\t%s\n", t.Spec.ServiceAccountName)
	}
	if len(t.Spec.InitContainers) > 0 {
		d.containers("Init Containers", t.Spec.InitContainers, nil, nil, "  ")
	}
	d.containers("Containers", t.Spec.Containers, nil, nil, "  ")
	d.volumes(t.Spec.Volumes, "  ")
	if t.Spec.PriorityClassName != "" {
		w.write(level1, "Priority Class Name:\t%s\n", t.Spec.PriorityClassName)
	}
	d.labelsIndent("  ", "Node-Selectors", t.Spec.NodeSelector)
	d.tolerations("  ", "Tolerations", t.Spec.Tolerations)
}
