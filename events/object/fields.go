package object

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file is THE list of what wake does with every field of every served kind.
// Each field is in exactly one set: enforced (a component of wake acts on it), not
// enforced yet (stored faithfully, and apply warns so nobody is misled), or refused
// (wake will never have it). A rule names a capability; the capability says which set
// its fields are in, so the issue that lands a capability flips it here, once.

type fieldSet int

const (
	enforced fieldSet = iota
	notEnforced
	refused
)

// A capability is something wake does, will do, or will never do with a group of
// fields. For notEnforced, text completes "accepted, not enforced yet: "; for
// refused it says why and what to use instead; for enforced it documents who acts.
type capability struct {
	set  fieldSet
	text string
}

var capabilities = map[string]capability{
	"objects": {enforced, "stored and served by apply, get and delete; labels select in get -l; deleting a namespace deletes its contents"},
	"server":  {enforced, "set by wake; decode drops any value a manifest carries, as kubectl apply does for the output of get -o yaml"},

	"finalizers":        {notEnforced, "deletion does not wait for finalizers in this build"},
	"workloads":         {notEnforced, "this container feature is not run by the node agent yet"},
	"run":               {enforced, "the node agent runs it on containerd; controllers keep replicas"},
	"place":             {enforced, "the scheduler places pods by it"},
	"mount":             {enforced, "the node agent mounts emptyDir and hostPath volumes"},
	"rollout":           {enforced, "the deployment controller rolls out by it"},
	"config":            {enforced, "the node agent reads ConfigMaps, Secrets and the downward API into env and volume files, refreshing the files when they change"},
	"rollouts":          {enforced, "the deployment and replicaset controllers act on it (minReadySeconds, progressDeadlineSeconds, paused)"},
	"scheduling":        {notEnforced, "the scheduler does not enforce it yet"},
	"resources":         {notEnforced, "the scheduler and node agent do not apply it yet"},
	"probes":            {enforced, "the node agent runs liveness, readiness and startup probes (httpGet, tcpSocket, exec, grpc) and postStart and preStop hooks"},
	"attach":            {notEnforced, "wake has no attach, so no container stdin is held open: with tty: true the container's terminal is (a shell waits for input), without it stdin reads end of file"},
	"ready-gates":       {notEnforced, "nothing sets readiness gate conditions in this build: the pod is Ready when its containers are"},
	"storage":           {notEnforced, "the node agent mounts only emptyDir and hostPath volumes in this build"},
	"claims":            {enforced, "the volume binder binds the claim to a volume or provisions one (local-path), the scheduler places the pod on the volume's node, the node agent mounts it"},
	"volumes":           {enforced, "the volume binder binds and reclaims volumes; the node agent mounts their local directory"},
	"ephemeral-volumes": {notEnforced, "wake does not create claims from ephemeral volume templates yet, so the scheduler keeps the pod Pending (persistentvolumeclaim <pod>-<volume> not found)"},
	"class-options":     {notEnforced, "the built-in local-path provisioner does not use it in this build"},
	"volume-options":    {notEnforced, "the node agent mounts the volume's directory without it in this build"},
	"volume-sources":    {refused, "wake cannot populate a volume from a snapshot or another claim; copy the data in from an init container"},
	"csi":               {refused, "wake runs no CSI drivers; use the local-path StorageClass, or a hostPath or local volume"},
	"security":          {notEnforced, "the node agent does not apply this security setting yet"},
	"secure":            {enforced, "the node agent applies it to the container's process and volumes on containerd"},
	"host-namespaces":   {enforced, "the node agent runs the pod in the node's network, PID or IPC namespace"},
	"host-ports":        {enforced, "the scheduler keeps two pods off one node port; the node agent maps the port to the pod"},
	"hostname":          {enforced, "the node agent sets it as the pod's hostname (/etc/hostname, /etc/hosts)"},
	"dns":               {enforced, "the node agent writes the pod's resolv.conf by it, and its cluster DNS answers for the pod's hostname in a headless Service of that name"},
	"pod-networking":    {notEnforced, "the node agent gives each pod its own network on the node's bridge and does not apply this setting yet"},
	"identity":          {notEnforced, "no service account credentials are issued in this build"},
	"services":          {notEnforced, "wake's Services do not act on it yet (no cloud load balancer, no topology routing)"},
	"external-name":     {enforced, "the cluster DNS answers the Service's name with a CNAME to it"},
	"service-proxy":     {enforced, "every node agent's service proxy routes by it (nftables rules, or the userspace proxy)"},
	"ingress":           {enforced, "every node agent's ingress proxy routes by it (wake's IngressClass, controller wake.run/ingress-controller)"},
	"ingress-resources": {notEnforced, "wake's ingress proxy routes only to Service backends; a resource backend gets no traffic"},
	"ingress-options":   {notEnforced, "wake's ingress controller takes no parameters in this build"},
	"service-endpoints": {enforced, "the control plane allocates cluster IPs and node ports on write and keeps EndpointSlices and Endpoints of the pods the selector matches, by readiness"},
	"nodes":             {notEnforced, "the node agent does not use it"},

	"cloud-volumes":   {refused, "wake runs no cloud volume plugins; use a persistentVolumeClaim or hostPath"},
	"in-tree-volumes": {refused, "wake runs no in-tree network storage plugins; use a persistentVolumeClaim or hostPath"},
	"flex-volumes":    {refused, "wake runs no FlexVolume drivers; use a persistentVolumeClaim or hostPath"},
	"git-repo":        {refused, "gitRepo is deprecated and wake does not run it; clone the repository into an emptyDir from an init container"},
	"windows":         {refused, "wake runs Linux containers only"},
	"dra":             {refused, "wake has no dynamic resource allocation (resource claims); request devices as extended resources in resources.limits"},
	"ephemeral":       {refused, "ephemeral containers cannot be declared; they are added to a running pod (kubectl debug)"},
	"kubelet-config":  {refused, "dynamic kubelet configuration was removed in Kubernetes 1.24; configure the node agent instead"},
}

// A rule places the field at path, and every field below it that no longer rule
// names, under one capability. Paths are patterns: "[]" stands for any element of a
// list ("spec.containers[].livenessProbe").
type rule struct {
	path       string
	capability string
}

// A valueRule refuses some values of a field that is otherwise accepted: a value
// that accepts returns false for falls under the refused capability.
type valueRule struct {
	path       string
	capability string
	accepts    func(value any) bool
}

// objectRules hold for every kind.
var objectRules = []rule{
	{path: "apiVersion", capability: "objects"},
	{path: "kind", capability: "objects"},
	{path: "metadata.name", capability: "objects"},
	{path: "metadata.generateName", capability: "objects"},
	{path: "metadata.namespace", capability: "objects"},
	{path: "metadata.labels", capability: "objects"},
	{path: "metadata.annotations", capability: "objects"},
	{path: "metadata.ownerReferences", capability: "objects"},
	{path: "metadata.finalizers", capability: "finalizers"},
	{path: "metadata.uid", capability: "server"},
	{path: "metadata.resourceVersion", capability: "server"},
	{path: "metadata.generation", capability: "server"},
	{path: "metadata.creationTimestamp", capability: "server"},
	{path: "metadata.deletionTimestamp", capability: "server"},
	{path: "metadata.deletionGracePeriodSeconds", capability: "server"},
	{path: "metadata.managedFields", capability: "server"},
	{path: "metadata.selfLink", capability: "server"},
}

// podSpecRules are relative to a pod spec: "spec." in a Pod, "spec.template.spec."
// in a Deployment or ReplicaSet.
var podSpecRules = slices.Concat(
	[]rule{
		{path: "volumes[]", capability: "storage"},
		{path: "volumes[].name", capability: "mount"},
		{path: "volumes[].emptyDir", capability: "mount"},
		{path: "volumes[].emptyDir.medium", capability: "storage"},
		{path: "volumes[].emptyDir.sizeLimit", capability: "storage"},
		{path: "volumes[].hostPath", capability: "mount"},
		{path: "volumes[].configMap", capability: "config"},
		{path: "volumes[].secret", capability: "config"},
		{path: "volumes[].downwardAPI", capability: "config"},
		{path: "volumes[].projected", capability: "config"},
		{path: "volumes[].projected.sources[].serviceAccountToken", capability: "identity"},
		{path: "volumes[].projected.sources[].clusterTrustBundle", capability: "identity"},
		{path: "volumes[].projected.sources[].podCertificate", capability: "identity"},
		{path: "volumes[].persistentVolumeClaim", capability: "claims"},
		{path: "volumes[].ephemeral", capability: "ephemeral-volumes"},
		{path: "volumes[].awsElasticBlockStore", capability: "cloud-volumes"},
		{path: "volumes[].azureDisk", capability: "cloud-volumes"},
		{path: "volumes[].azureFile", capability: "cloud-volumes"},
		{path: "volumes[].cinder", capability: "cloud-volumes"},
		{path: "volumes[].gcePersistentDisk", capability: "cloud-volumes"},
		{path: "volumes[].vsphereVolume", capability: "cloud-volumes"},
		{path: "volumes[].photonPersistentDisk", capability: "cloud-volumes"},
		{path: "volumes[].portworxVolume", capability: "cloud-volumes"},
		{path: "volumes[].scaleIO", capability: "cloud-volumes"},
		{path: "volumes[].storageos", capability: "cloud-volumes"},
		{path: "volumes[].quobyte", capability: "in-tree-volumes"},
		{path: "volumes[].flocker", capability: "in-tree-volumes"},
		{path: "volumes[].glusterfs", capability: "in-tree-volumes"},
		{path: "volumes[].rbd", capability: "in-tree-volumes"},
		{path: "volumes[].cephfs", capability: "in-tree-volumes"},
		{path: "volumes[].iscsi", capability: "in-tree-volumes"},
		{path: "volumes[].fc", capability: "in-tree-volumes"},
		{path: "volumes[].flexVolume", capability: "flex-volumes"},
		{path: "volumes[].gitRepo", capability: "git-repo"},
		{path: "ephemeralContainers", capability: "ephemeral"},
		{path: "restartPolicy", capability: "run"},
		{path: "terminationGracePeriodSeconds", capability: "run"},
		{path: "activeDeadlineSeconds", capability: "workloads"},
		{path: "imagePullSecrets", capability: "workloads"},
		{path: "shareProcessNamespace", capability: "run"},
		{path: "runtimeClassName", capability: "workloads"},
		{path: "enableServiceLinks", capability: "workloads"},
		{path: "nodeSelector", capability: "place"},
		{path: "nodeName", capability: "place"},
		{path: "affinity", capability: "scheduling"},
		{path: "affinity.nodeAffinity", capability: "place"},
		{path: "schedulerName", capability: "place"},
		{path: "tolerations", capability: "place"},
		{path: "priorityClassName", capability: "scheduling"},
		{path: "priority", capability: "scheduling"},
		{path: "preemptionPolicy", capability: "scheduling"},
		{path: "topologySpreadConstraints", capability: "scheduling"},
		{path: "schedulingGates", capability: "scheduling"},
		{path: "schedulingGroup", capability: "scheduling"},
		{path: "evictionResponders", capability: "scheduling"},
		{path: "os", capability: "place"},
		{path: "readinessGates", capability: "ready-gates"},
		{path: "resources", capability: "resources"},
		{path: "resources.claims", capability: "dra"},
		{path: "overhead", capability: "resources"},
		{path: "resourceClaims", capability: "dra"},
		{path: "securityContext", capability: "secure"},
		{path: "securityContext.seLinuxOptions", capability: "security"},
		{path: "securityContext.seLinuxChangePolicy", capability: "security"},
		{path: "securityContext.sysctls", capability: "security"},
		{path: "securityContext.fsGroupChangePolicy", capability: "security"},
		{path: "securityContext.supplementalGroupsPolicy", capability: "security"},
		{path: "securityContext.appArmorProfile", capability: "security"},
		{path: "securityContext.windowsOptions", capability: "windows"},
		{path: "hostPID", capability: "host-namespaces"},
		{path: "hostIPC", capability: "host-namespaces"},
		{path: "hostUsers", capability: "security"},
		{path: "hostNetwork", capability: "host-namespaces"},
		{path: "dnsPolicy", capability: "dns"},
		{path: "dnsConfig", capability: "dns"},
		{path: "hostname", capability: "hostname"},
		{path: "hostnameOverride", capability: "pod-networking"},
		{path: "subdomain", capability: "dns"},
		{path: "setHostnameAsFQDN", capability: "pod-networking"},
		{path: "hostAliases", capability: "pod-networking"},
		{path: "serviceAccountName", capability: "identity"},
		{path: "serviceAccount", capability: "identity"},
		{path: "automountServiceAccountToken", capability: "identity"},
	},
	mount("containers[].", containerRules),
	mount("initContainers[].", initContainerRules()),
)

// initContainerRules are containerRules with restartPolicy run: on an init
// container, Always makes it a sidecar.
func initContainerRules() []rule {
	out := slices.Clone(containerRules)
	for i := range out {
		if out[i].path == "restartPolicy" {
			out[i].capability = "run"
		}
	}
	return out
}

// podSpecValueRules refuse the values of pod spec fields that only mean Windows.
var podSpecValueRules = []valueRule{
	{path: "os.name", capability: "windows", accepts: func(v any) bool { return v == "linux" }},
	{path: "nodeSelector", capability: "windows", accepts: func(v any) bool { return !selectsWindows(v) }},
	{path: "volumes[].hostPath.path", capability: "windows", accepts: func(v any) bool { return !isWindowsPath(v) }},
	{path: "containers[].volumeMounts[].mountPath", capability: "windows", accepts: func(v any) bool { return !isWindowsPath(v) }},
	{path: "initContainers[].volumeMounts[].mountPath", capability: "windows", accepts: func(v any) bool { return !isWindowsPath(v) }},
}

// selectsWindows is true for a nodeSelector that requires Windows nodes.
func selectsWindows(nodeSelector any) bool {
	m, _ := nodeSelector.(map[string]any)
	return m[corev1.LabelOSStable] == "windows" || m["beta.kubernetes.io/os"] == "windows"
}

// isWindowsPath is true for a path with a drive letter ("C:\\data", "C:/data") or a
// UNC path.
func isWindowsPath(path any) bool {
	s, _ := path.(string)
	return len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') && unicode.IsLetter(rune(s[0])) ||
		strings.HasPrefix(s, `\\`)
}

// containerRules are relative to one container, regular or init.
var containerRules = []rule{
	{path: "name", capability: "run"},
	{path: "image", capability: "run"},
	{path: "imagePullPolicy", capability: "run"},
	{path: "command", capability: "run"},
	{path: "args", capability: "run"},
	{path: "workingDir", capability: "run"},
	{path: "ports", capability: "run"},
	{path: "ports[].hostPort", capability: "host-ports"},
	{path: "ports[].hostIP", capability: "host-ports"},
	{path: "env", capability: "workloads"},
	{path: "env[].name", capability: "run"},
	{path: "env[].value", capability: "run"},
	{path: "env[].valueFrom.fieldRef", capability: "run"},
	{path: "env[].valueFrom.resourceFieldRef", capability: "config"},
	{path: "env[].valueFrom.configMapKeyRef", capability: "config"},
	{path: "env[].valueFrom.secretKeyRef", capability: "config"},
	{path: "envFrom", capability: "config"},
	{path: "lifecycle", capability: "probes"},
	{path: "lifecycle.stopSignal", capability: "workloads"},
	{path: "restartPolicy", capability: "workloads"},
	{path: "restartPolicyRules", capability: "workloads"},
	{path: "terminationMessagePath", capability: "run"},
	{path: "terminationMessagePolicy", capability: "run"},
	{path: "stdin", capability: "attach"},
	{path: "stdinOnce", capability: "attach"},
	{path: "tty", capability: "run"},
	{path: "resources", capability: "resources"},
	{path: "resources.requests", capability: "place"},
	{path: "resources.limits", capability: "run"},
	{path: "resources.claims", capability: "dra"},
	{path: "resizePolicy", capability: "resources"},
	{path: "volumeMounts", capability: "storage"},
	{path: "volumeMounts[].name", capability: "mount"},
	{path: "volumeMounts[].mountPath", capability: "mount"},
	{path: "volumeMounts[].readOnly", capability: "mount"},
	{path: "volumeMounts[].subPath", capability: "mount"},
	{path: "volumeDevices", capability: "storage"},
	{path: "livenessProbe", capability: "probes"},
	{path: "readinessProbe", capability: "probes"},
	{path: "startupProbe", capability: "probes"},
	{path: "securityContext", capability: "secure"},
	{path: "securityContext.seLinuxOptions", capability: "security"},
	{path: "securityContext.procMount", capability: "security"},
	{path: "securityContext.appArmorProfile", capability: "security"},
	{path: "securityContext.windowsOptions", capability: "windows"},
}

var workloadRules = []rule{
	{path: "spec.replicas", capability: "run"},
	{path: "spec.selector", capability: "run"},
	{path: "spec.minReadySeconds", capability: "rollouts"},
	{path: "spec.template.metadata", capability: "run"},
	{path: "status", capability: "server"},
}

// kindRules are the rules of each kind beyond objectRules.
var kindRules = map[string][]rule{
	"Namespace": {
		{path: "spec", capability: "objects"},
		{path: "status", capability: "server"},
	},
	"Node": {
		{path: "spec.podCIDR", capability: "pod-networking"},
		{path: "spec.podCIDRs", capability: "pod-networking"},
		{path: "spec.providerID", capability: "nodes"},
		{path: "spec.externalID", capability: "nodes"},
		{path: "spec.unschedulable", capability: "place"},
		{path: "spec.taints", capability: "place"},
		{path: "spec.podPreemptionPolicy", capability: "scheduling"},
		{path: "spec.configSource", capability: "kubelet-config"},
		{path: "status", capability: "server"},
	},
	"Pod": slices.Concat(
		mount("spec.", podSpecRules),
		[]rule{{path: "status", capability: "server"}},
	),
	"Deployment": slices.Concat(
		workloadRules,
		mount("spec.template.spec.", podSpecRules),
		[]rule{
			{path: "spec.strategy", capability: "rollout"},
			{path: "spec.revisionHistoryLimit", capability: "rollout"},
			{path: "spec.progressDeadlineSeconds", capability: "rollouts"},
			{path: "spec.paused", capability: "rollouts"},
		},
	),
	"ReplicaSet": slices.Concat(workloadRules, mount("spec.template.spec.", podSpecRules)),
	"Service": slices.Concat(
		mount("spec.", []rule{
			{path: "ports", capability: "service-endpoints"},
			{path: "selector", capability: "service-endpoints"},
			{path: "clusterIP", capability: "service-endpoints"},
			{path: "clusterIPs", capability: "service-endpoints"},
			{path: "type", capability: "service-endpoints"},
			{path: "externalIPs", capability: "service-proxy"},
			{path: "sessionAffinity", capability: "service-proxy"},
			{path: "sessionAffinityConfig", capability: "service-proxy"},
			{path: "loadBalancerIP", capability: "services"},
			{path: "loadBalancerSourceRanges", capability: "services"},
			{path: "loadBalancerClass", capability: "services"},
			{path: "allocateLoadBalancerNodePorts", capability: "service-endpoints"},
			{path: "externalName", capability: "external-name"},
			{path: "externalTrafficPolicy", capability: "service-proxy"},
			{path: "internalTrafficPolicy", capability: "service-proxy"},
			{path: "healthCheckNodePort", capability: "services"},
			{path: "publishNotReadyAddresses", capability: "service-endpoints"},
			{path: "ipFamilies", capability: "service-endpoints"},
			{path: "ipFamilyPolicy", capability: "service-endpoints"},
			{path: "trafficDistribution", capability: "services"},
		}),
		[]rule{{path: "status", capability: "server"}},
	),
	"Endpoints": {
		{path: "subsets", capability: "objects"},
	},
	"EndpointSlice": {
		{path: "addressType", capability: "objects"},
		{path: "endpoints", capability: "objects"},
		{path: "ports", capability: "objects"},
	},
	"ConfigMap": {
		{path: "data", capability: "objects"},
		{path: "binaryData", capability: "objects"},
		{path: "immutable", capability: "objects"},
	},
	"Secret": {
		{path: "data", capability: "objects"},
		{path: "stringData", capability: "objects"},
		{path: "type", capability: "objects"},
		{path: "immutable", capability: "objects"},
	},
	"PersistentVolume": slices.Concat(
		mount("spec.", []rule{
			{path: "capacity", capability: "volumes"},
			{path: "accessModes", capability: "volumes"},
			{path: "claimRef", capability: "volumes"},
			{path: "persistentVolumeReclaimPolicy", capability: "volumes"},
			{path: "storageClassName", capability: "volumes"},
			{path: "nodeAffinity", capability: "volumes"},
			{path: "volumeMode", capability: "volumes"},
			{path: "hostPath", capability: "volumes"},
			{path: "local", capability: "volumes"},
			{path: "local.fsType", capability: "volume-options"},
			{path: "mountOptions", capability: "volume-options"},
			{path: "volumeAttributesClassName", capability: "volume-options"},
			{path: "csi", capability: "csi"},
			{path: "nfs", capability: "in-tree-volumes"},
			{path: "quobyte", capability: "in-tree-volumes"},
			{path: "flocker", capability: "in-tree-volumes"},
			{path: "glusterfs", capability: "in-tree-volumes"},
			{path: "rbd", capability: "in-tree-volumes"},
			{path: "cephfs", capability: "in-tree-volumes"},
			{path: "iscsi", capability: "in-tree-volumes"},
			{path: "fc", capability: "in-tree-volumes"},
			{path: "flexVolume", capability: "flex-volumes"},
			{path: "awsElasticBlockStore", capability: "cloud-volumes"},
			{path: "azureDisk", capability: "cloud-volumes"},
			{path: "azureFile", capability: "cloud-volumes"},
			{path: "cinder", capability: "cloud-volumes"},
			{path: "gcePersistentDisk", capability: "cloud-volumes"},
			{path: "vsphereVolume", capability: "cloud-volumes"},
			{path: "photonPersistentDisk", capability: "cloud-volumes"},
			{path: "portworxVolume", capability: "cloud-volumes"},
			{path: "scaleIO", capability: "cloud-volumes"},
			{path: "storageos", capability: "cloud-volumes"},
		}),
		[]rule{{path: "status", capability: "server"}},
	),
	"PersistentVolumeClaim": slices.Concat(
		mount("spec.", []rule{
			{path: "accessModes", capability: "claims"},
			{path: "resources", capability: "claims"},
			{path: "selector", capability: "claims"},
			{path: "storageClassName", capability: "claims"},
			{path: "volumeName", capability: "claims"},
			{path: "volumeMode", capability: "claims"},
			{path: "resources.limits", capability: "volume-options"},
			{path: "dataSource", capability: "volume-sources"},
			{path: "dataSourceRef", capability: "volume-sources"},
			{path: "volumeAttributesClassName", capability: "volume-options"},
		}),
		[]rule{{path: "status", capability: "server"}},
	),
	"StorageClass": {
		{path: "provisioner", capability: "volumes"},
		{path: "reclaimPolicy", capability: "volumes"},
		{path: "volumeBindingMode", capability: "volumes"},
		{path: "parameters", capability: "class-options"},
		{path: "allowVolumeExpansion", capability: "class-options"},
		{path: "mountOptions", capability: "class-options"},
		{path: "allowedTopologies", capability: "class-options"},
	},
	"Ingress": {
		{path: "spec.ingressClassName", capability: "ingress"},
		{path: "spec.defaultBackend", capability: "ingress"},
		{path: "spec.rules", capability: "ingress"},
		{path: "spec.tls", capability: "ingress"},
		{path: "spec.defaultBackend.resource", capability: "ingress-resources"},
		{path: "spec.rules[].http.paths[].backend.resource", capability: "ingress-resources"},
		{path: "status", capability: "server"},
	},
	"IngressClass": {
		{path: "spec.controller", capability: "ingress"},
		{path: "spec.parameters", capability: "ingress-options"},
	},
}

// mount places relative rules under prefix.
func mount(prefix string, rules []rule) []rule {
	out := make([]rule, len(rules))
	for i, r := range rules {
		r.path = prefix + r.path
		out[i] = r
	}
	return out
}

// kindValueRules are the value rules of the kinds with a pod spec.
var kindValueRules = map[string][]valueRule{
	"Pod":        mountValues("spec.", podSpecValueRules),
	"Deployment": mountValues("spec.template.spec.", podSpecValueRules),
	"ReplicaSet": mountValues("spec.template.spec.", podSpecValueRules),
}

func mountValues(prefix string, rules []valueRule) []valueRule {
	out := make([]valueRule, len(rules))
	for i, r := range rules {
		r.path = prefix + r.path
		out[i] = r
	}
	return out
}

// fieldRules and valueRules index each kind's rules by path.
var fieldRules = func() map[string]map[string]rule {
	out := map[string]map[string]rule{}
	for kind, rules := range kindRules {
		out[kind] = map[string]rule{}
		for _, r := range slices.Concat(objectRules, rules) {
			out[kind][r.path] = r
		}
	}
	return out
}()

var valueRules = func() map[string]map[string]valueRule {
	out := map[string]map[string]valueRule{}
	for kind, rules := range kindValueRules {
		out[kind] = map[string]valueRule{}
		for _, r := range rules {
			out[kind][r.path] = r
		}
	}
	return out
}()

// CheckFields classifies every field the person declared (declared is the manifest
// document as a generic JSON map, server-populated fields already removed) against
// the one explicit field list. It returns kubectl-style warning lines for fields
// that are accepted but not yet enforced — one line per capability, naming the
// declared paths that need it (without the object's name: the CLI prefixes it) —
// and an error naming each refused field, why, and what to use instead.
//
// A field declares something unless it is null or, for a field that is not a
// pointer, holds its zero value: "strategy: {}" and "resources: {}" (as kubectl
// create prints them) declare nothing, while "emptyDir: {}" does.
func CheckFields(k *Kind, declared map[string]any) (warnings []string, refusedErrs field.ErrorList) {
	c := &fieldCheck{rules: fieldRules[k.Kind], values: valueRules[k.Kind], paths: map[string][]string{}}
	c.walkStruct(reflect.TypeOf(k.New()).Elem(), declared, nil)
	for _, name := range c.order {
		paths := c.paths[name]
		list := strings.Join(paths, ", ")
		if len(paths) > maxWarnedPaths {
			list = fmt.Sprintf("%s and %d more", strings.Join(paths[:maxWarnedPaths], ", "), len(paths)-maxWarnedPaths)
		}
		warnings = append(warnings, list+": accepted, not enforced yet: "+capabilities[name].text)
	}
	return warnings, c.refused
}

// maxWarnedPaths caps the paths one warning line lists.
const maxWarnedPaths = 8

type fieldCheck struct {
	rules   map[string]rule
	values  map[string]valueRule
	order   []string            // notEnforced capabilities, in order of first use
	paths   map[string][]string // capability -> declared paths, deduplicated
	refused field.ErrorList
}

// A segment of a path: the JSON name of a field, or a list index. Patterns write
// every index as "[]".
type segment struct {
	name  string
	index int // -1 for a field
}

func patternOf(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.index >= 0:
			b.WriteString("[]")
		case b.Len() > 0:
			b.WriteString("." + s.name)
		default:
			b.WriteString(s.name)
		}
	}
	return b.String()
}

func pathOf(segs []segment) *field.Path {
	var p *field.Path
	for _, s := range segs {
		switch {
		case s.index >= 0:
			p = p.Index(s.index)
		case p == nil:
			p = field.NewPath(s.name)
		default:
			p = p.Child(s.name)
		}
	}
	return p
}

// ruleFor returns the longest rule that is a prefix of segs, and the length of
// that prefix.
func (c *fieldCheck) ruleFor(segs []segment) (rule, int, bool) {
	for n := len(segs); n > 0; n-- {
		if r, ok := c.rules[patternOf(segs[:n])]; ok {
			return r, n, true
		}
	}
	return rule{}, 0, false
}

// walk visits a declared value v of Go type t at segs. pointer says whether the
// field is a pointer (or a list element), so that a zero value still declares it.
func (c *fieldCheck) walk(t reflect.Type, v any, segs []segment, pointer bool) {
	for t.Kind() == reflect.Pointer {
		t, pointer = t.Elem(), true
	}
	if v == nil || !pointer && isZeroJSON(v) {
		return
	}
	pattern := patternOf(segs)
	if r, ok := c.rules[pattern]; ok && capabilities[r.capability].set == refused {
		c.refuse(segs, field.OmitValueType{}, r.capability)
		return
	}
	if r, ok := c.values[pattern]; ok && !r.accepts(v) {
		c.refuse(segs, v, r.capability)
		return
	}
	switch {
	case isLeafType(t):
		c.record(segs)
	case t.Kind() == reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			c.record(segs)
			return
		}
		for i, item := range items {
			c.walk(t.Elem(), item, append(slices.Clip(segs), segment{index: i}), true)
		}
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			c.record(segs)
			return
		}
		c.walkStruct(t, m, segs)
	default:
		c.record(segs)
	}
}

// walkStruct visits the declared keys of a struct in the order of the Go fields,
// so that warnings list paths in the order the API documents them. Keys the type
// does not have (strict decoding refuses them first) are classified by path alone.
func (c *fieldCheck) walkStruct(t reflect.Type, m map[string]any, segs []segment) {
	seen := map[string]bool{}
	for _, f := range jsonFieldsOf(t) {
		if v, ok := m[f.name]; ok {
			seen[f.name] = true
			c.walk(f.typ, v, append(slices.Clip(segs), segment{name: f.name, index: -1}), false)
		}
	}
	for _, key := range sortedKeys(m) {
		if !seen[key] {
			c.record(append(slices.Clip(segs), segment{name: key, index: -1}))
		}
	}
}

// record files a declared leaf under its rule, naming it by the rule's path with
// real indices ("spec.containers[0].ports" for ".../ports[1].containerPort").
func (c *fieldCheck) record(segs []segment) {
	r, n, ok := c.ruleFor(segs)
	if !ok {
		c.refused = append(c.refused, field.InternalError(pathOf(segs), fmt.Errorf("wake has no policy for this field")))
		return
	}
	capability := capabilities[r.capability]
	if capability.set != notEnforced {
		return
	}
	path := pathOf(segs[:n]).String()
	paths, known := c.paths[r.capability]
	if !known {
		c.order = append(c.order, r.capability)
	}
	if !slices.Contains(paths, path) {
		c.paths[r.capability] = append(paths, path)
	}
}

func (c *fieldCheck) refuse(segs []segment, value any, capability string) {
	c.refused = append(c.refused, &field.Error{
		Type:     field.ErrorTypeNotSupported,
		Field:    pathOf(segs).String(),
		BadValue: value,
		Detail:   capabilities[capability].text,
	})
}

func isZeroJSON(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// isLeafType is true for types whose values are not walked into: scalars, maps
// (labels, data, resource lists are free-form), byte strings, and types with their
// own JSON form (Quantity, IntOrString, Time).
func isLeafType(t reflect.Type) bool {
	switch {
	case reflect.PointerTo(t).Implements(jsonUnmarshaler):
		return true
	case t.Kind() == reflect.Map:
		return true
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8
	}
	return t.Kind() != reflect.Struct
}

type jsonField struct {
	name  string
	typ   reflect.Type
	index []int // for reflect.Value.FieldByIndex
}

// jsonFieldsOf lists the JSON fields of struct type t in declaration order, with
// inlined and embedded structs flattened.
func jsonFieldsOf(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && (name == "" || opts == "inline"):
			for _, inner := range jsonFieldsOf(f.Type) {
				inner.index = append([]int{i}, inner.index...)
				out = append(out, inner)
			}
		case name != "":
			out = append(out, jsonField{name, f.Type, []int{i}})
		}
	}
	return out
}
