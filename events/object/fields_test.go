package object

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// leafPatterns lists every leaf field path of Go type t, as patterns ("[]" for list
// elements), by walking JSON tags: inline structs are flattened, pointers
// followed, maps and types with their own JSON form are leaves. A type met again
// below itself (a recursive type) is a leaf at that point.
func leafPatterns(t reflect.Type, prefix string, inProgress map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case isLeafType(t) || inProgress[t]:
		return []string{prefix}
	case t.Kind() == reflect.Slice:
		return leafPatterns(t.Elem(), prefix+"[]", inProgress)
	}
	inProgress[t] = true
	defer delete(inProgress, t)
	var out []string
	for _, f := range jsonFieldsOf(t) {
		p := f.name
		if prefix != "" {
			p = prefix + "." + f.name
		}
		out = append(out, leafPatterns(f.typ, p, inProgress)...)
	}
	return out
}

func kindLeaves(k *Kind) []string {
	return leafPatterns(reflect.TypeOf(k.New()).Elem(), "", map[reflect.Type]bool{})
}

// covers reports whether rule path r is leaf itself or one of its ancestors.
func covers(r, leaf string) bool {
	return leaf == r || strings.HasPrefix(leaf, r+".") || strings.HasPrefix(leaf, r+"[]")
}

func TestFieldListCoversEveryField(t *testing.T) {
	for _, k := range Kinds() {
		rules, ok := fieldRules[k.Kind]
		if !ok {
			t.Errorf("%s: no field rules", k.Kind)
			continue
		}
		leaves := kindLeaves(k)
		if len(leaves) < 5 {
			t.Fatalf("%s: the walk found only %q", k.Kind, leaves)
		}
		paths := slices.Collect(maps.Keys(rules))
		for _, leaf := range leaves {
			if !slices.ContainsFunc(paths, func(r string) bool { return covers(r, leaf) }) {
				t.Errorf("%s: %s is in no set: add it to fields.go", k.Kind, leaf)
			}
		}
	}
}

func TestFieldListHasNoDeadOrDuplicateEntries(t *testing.T) {
	usedCapabilities := map[string]bool{}
	for _, k := range Kinds() {
		leaves := kindLeaves(k)
		seen := map[string]bool{}
		for _, r := range slices.Concat(objectRules, kindRules[k.Kind]) {
			if seen[r.path] {
				t.Errorf("%s: %s is listed twice", k.Kind, r.path)
			}
			seen[r.path] = true
			if !slices.ContainsFunc(leaves, func(leaf string) bool { return covers(r.path, leaf) }) {
				t.Errorf("%s: %s matches no field of the kind", k.Kind, r.path)
			}
			if _, ok := capabilities[r.capability]; !ok {
				t.Errorf("%s: %s names unknown capability %q", k.Kind, r.path, r.capability)
			}
			usedCapabilities[r.capability] = true
		}
		for _, r := range kindValueRules[k.Kind] {
			if !slices.Contains(leaves, r.path) {
				t.Errorf("%s: value rule %s is not a leaf field of the kind", k.Kind, r.path)
			}
			if capabilities[r.capability].set != refused {
				t.Errorf("%s: value rule %s names %q, which is not refused", k.Kind, r.path, r.capability)
			}
			usedCapabilities[r.capability] = true
		}
	}
	for name := range capabilities {
		if !usedCapabilities[name] {
			t.Errorf("capability %q is used by no rule", name)
		}
	}
	if len(kindRules) != len(Kinds()) {
		t.Errorf("kindRules has %d kinds, wake serves %d", len(kindRules), len(Kinds()))
	}
}

func TestCheckFields(t *testing.T) {
	manyEnv := `[` + strings.Repeat(`{"name":"A","value":"1"},`, 2) + `{"name":"B","value":"2"}]`
	tests := []struct {
		name     string
		kind     string
		manifest string
		warnings []string
		refused  []string
	}{{
		name:     "enforced fields draw nothing",
		kind:     "ConfigMap",
		manifest: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"b"},"annotations":{"x":"y"}},"data":{"k":"v"},"immutable":true}`,
	}, {
		name:     "whole Namespace spec is enforced",
		kind:     "Namespace",
		manifest: `{"metadata":{"name":"n"},"spec":{"finalizers":["kubernetes"]}}`,
	}, {
		name:     "finalizers are not enforced",
		kind:     "Secret",
		manifest: `{"metadata":{"name":"s","finalizers":["example.com/keep"]},"type":"Opaque","stringData":{"a":"b"}}`,
		warnings: []string{"metadata.finalizers: accepted, not enforced yet: deletion does not wait for finalizers in this build"},
	}, {
		name: "one line per capability, paths with real indices, in API order",
		kind: "Deployment",
		manifest: `{"spec":{"replicas":3,"strategy":{"type":"Recreate"},"template":{"spec":{
			"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}],"livenessProbe":{"tcpSocket":{"port":80}},"stdin":true}],
			"readinessGates":[{"conditionType":"example.com/ready"}],"nodeSelector":{"disk":"ssd"}}}}}`,
		// replicas, containers, probes, tty, nodeSelector and strategy are enforced now.
		warnings: []string{
			"spec.template.spec.containers[0].stdin: accepted, not enforced yet: wake has no attach, so no container stdin is held open: with tty: true the container's terminal is (a shell waits for input), without it stdin reads end of file",
			"spec.template.spec.readinessGates: accepted, not enforced yet: nothing sets readiness gate conditions in this build: the pod is Ready when its containers are",
		},
	}, {
		name: "probes and lifecycle hooks are enforced; a hook's stop signal is not",
		kind: "Pod",
		manifest: `{"spec":{"containers":[{"name":"web","image":"i","ports":[{"name":"http","containerPort":80}],
			"livenessProbe":{"httpGet":{"path":"/","port":"http","httpHeaders":[{"name":"Host","value":"x"}]},"periodSeconds":1,"terminationGracePeriodSeconds":3},
			"readinessProbe":{"exec":{"command":["test","-f","/tmp/ok"]},"timeoutSeconds":2,"successThreshold":2,"failureThreshold":1},
			"startupProbe":{"grpc":{"port":9000},"initialDelaySeconds":1},
			"lifecycle":{"postStart":{"exec":{"command":["true"]}},"preStop":{"httpGet":{"path":"/quit","port":80}},"stopSignal":"SIGUSR1"}}]}}`,
		warnings: []string{
			"spec.containers[0].lifecycle.stopSignal: accepted, not enforced yet: this container feature is not run by the node agent yet",
		},
	}, {
		name:     "more than eight paths are counted",
		kind:     "Pod",
		manifest: `{"spec":{"initContainers":[` + strings.Repeat(`{"securityContext":{"seLinuxOptions":{"level":"s0"}}},`, 9) + `{"name":"a","image":"i","command":["x"],"args":["y"],"workingDir":"/","env":` + manyEnv + `,"imagePullPolicy":"Always"}]}}`,
		warnings: []string{"spec.initContainers[0].securityContext.seLinuxOptions, spec.initContainers[1].securityContext.seLinuxOptions, spec.initContainers[2].securityContext.seLinuxOptions, " +
			"spec.initContainers[3].securityContext.seLinuxOptions, spec.initContainers[4].securityContext.seLinuxOptions, spec.initContainers[5].securityContext.seLinuxOptions, " +
			"spec.initContainers[6].securityContext.seLinuxOptions, spec.initContainers[7].securityContext.seLinuxOptions and 1 more: " +
			"accepted, not enforced yet: the node agent does not apply this security setting yet"},
	}, {
		name: "init containers, sidecars, termination messages and security settings run",
		kind: "Pod",
		manifest: `{"spec":{"hostPID":true,"hostIPC":true,"shareProcessNamespace":true,"securityContext":{"runAsUser":1000,"runAsGroup":3000,"runAsNonRoot":true,"fsGroup":2000,"supplementalGroups":[4000],"seccompProfile":{"type":"RuntimeDefault"}},
			"initContainers":[{"name":"proxy","image":"i","restartPolicy":"Always","terminationMessagePolicy":"FallbackToLogsOnError"}],
			"containers":[{"name":"app","image":"i","terminationMessagePath":"/tmp/m","securityContext":{"runAsUser":1,"runAsGroup":1,"runAsNonRoot":true,"privileged":false,
				"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]},"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"seccompProfile":{"type":"Localhost","localhostProfile":"p.json"}}}]}}`,
	}, {
		name: "hostname, subdomain, DNS settings, host ports and the host network are enforced by the node agent; the rest of pod networking warns",
		kind: "Pod",
		manifest: `{"spec":{"hostname":"db-0","subdomain":"db","hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet","dnsConfig":{"nameservers":["10.0.0.10"]},
			"hostAliases":[{"ip":"10.0.0.1","hostnames":["gw"]}],
			"containers":[{"name":"db","image":"i","ports":[{"containerPort":5432,"hostPort":5432,"hostIP":"127.0.0.1"}]}]}}`,
		warnings: []string{
			"spec.hostAliases: accepted, not enforced yet: the node agent gives each pod its own network on the node's bridge and does not apply this setting yet",
		},
	}, {
		name:     "zero values of non-pointer fields declare nothing",
		kind:     "Deployment",
		manifest: `{"metadata":{"creationTimestamp":null},"spec":{"strategy":{},"paused":false,"template":{"metadata":{"creationTimestamp":null},"spec":{"hostNetwork":false,"containers":[]}}},"status":{}}`,
	}, {
		name:     "rollout fields are enforced by the deployment and replicaset controllers",
		kind:     "Deployment",
		manifest: `{"spec":{"minReadySeconds":5,"progressDeadlineSeconds":120,"paused":true,"revisionHistoryLimit":3,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"50%","maxUnavailable":0}}}}`,
	}, {
		name:     "an empty pointer struct is a declaration",
		kind:     "Pod",
		manifest: `{"spec":{"volumes":[{"name":"scratch","emptyDir":{}}],"affinity":{}}}`,
		warnings: []string{
			"spec.affinity: accepted, not enforced yet: the scheduler does not enforce it yet",
		},
	}, {
		name:     "cloud volume plugins are refused with the alternative",
		kind:     "Pod",
		manifest: `{"spec":{"volumes":[{"name":"ok","hostPath":{"path":"/data"}},{"name":"ebs","awsElasticBlockStore":{"volumeID":"vol-1"}}]}}`,
		refused:  []string{"spec.volumes[1].awsElasticBlockStore: Unsupported value: wake runs no cloud volume plugins; use a persistentVolumeClaim or hostPath"},
	}, {
		name:     "claim volumes are enforced; ephemeral volumes warn that the pod stays Pending",
		kind:     "Pod",
		manifest: `{"spec":{"volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"db-data"}},{"name":"scratch","emptyDir":{}},{"name":"cache","ephemeral":{"volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"]}}}}]}}`,
		warnings: []string{"spec.volumes[2].ephemeral: accepted, not enforced yet: " +
			"wake does not create claims from ephemeral volume templates yet, so the scheduler keeps the pod Pending (persistentvolumeclaim <pod>-<volume> not found)"},
	}, {
		name:     "a null refused field declares nothing",
		kind:     "Pod",
		manifest: `{"spec":{"volumes":[{"name":"v","gitRepo":null,"nfs":{"server":"s","path":"/"}}]}}`,
		warnings: []string{"spec.volumes[0]: accepted, not enforced yet: the node agent mounts only emptyDir and hostPath volumes in this build"},
	}, {
		name: "ConfigMaps, Secrets and the downward API in env and volumes are enforced; service account tokens are not",
		kind: "Pod",
		manifest: `{"spec":{"volumes":[{"name":"c","configMap":{"name":"c","items":[{"key":"k","path":"p","mode":256}],"defaultMode":420,"optional":true}},
			{"name":"s","secret":{"secretName":"s"}},{"name":"d","downwardAPI":{"items":[{"path":"l","fieldRef":{"fieldPath":"metadata.labels"}}]}},
			{"name":"p","projected":{"sources":[{"configMap":{"name":"c"}},{"secret":{"name":"s"}},{"serviceAccountToken":{"path":"t"}}]}}],
			"containers":[{"name":"a","image":"i","envFrom":[{"prefix":"P_","configMapRef":{"name":"c"}}],"env":[
			{"name":"A","valueFrom":{"configMapKeyRef":{"name":"c","key":"k","optional":true}}},{"name":"B","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}},
			{"name":"C","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}}],
			"volumeMounts":[{"name":"c","mountPath":"/c"}]}]}}`,
		warnings: []string{"spec.volumes[3].projected.sources[2].serviceAccountToken: accepted, not enforced yet: no service account credentials are issued in this build"},
	}, {
		name:     "refused fields in a pod template and in init containers",
		kind:     "ReplicaSet",
		manifest: `{"spec":{"template":{"spec":{"resourceClaims":[{"name":"gpu"}],"initContainers":[{"name":"i","securityContext":{"windowsOptions":{"runAsUserName":"x"}}}]}}}}`,
		refused: []string{
			"spec.template.spec.initContainers[0].securityContext.windowsOptions: Unsupported value: wake runs Linux containers only",
			"spec.template.spec.resourceClaims: Unsupported value: wake has no dynamic resource allocation (resource claims); request devices as extended resources in resources.limits",
		},
	}, {
		name:     "Windows values of accepted fields are refused",
		kind:     "Pod",
		manifest: `{"spec":{"os":{"name":"windows"},"nodeSelector":{"kubernetes.io/os":"windows"},"containers":[{"volumeMounts":[{"mountPath":"C:\\data"}]}]}}`,
		refused: []string{
			`spec.containers[0].volumeMounts[0].mountPath: Unsupported value: "C:\\data": wake runs Linux containers only`,
			`spec.nodeSelector: Unsupported value: {"kubernetes.io/os":"windows"}: wake runs Linux containers only`,
			`spec.os.name: Unsupported value: "windows": wake runs Linux containers only`,
		},
	}, {
		name:     "Linux values are accepted",
		kind:     "Pod",
		manifest: `{"spec":{"os":{"name":"linux"},"nodeSelector":{"kubernetes.io/os":"linux"}}}`,
		// nodeSelector and os are enforced by the scheduler: no warning.
	}, {
		name:     "a service's allocation, endpoints and routing are enforced; a cloud load balancer's fields are not",
		kind:     "Service",
		manifest: `{"spec":{"type":"LoadBalancer","ports":[{"port":80}],"selector":{"app":"web"},"publishNotReadyAddresses":true,"sessionAffinity":"ClientIP","externalTrafficPolicy":"Local","loadBalancerSourceRanges":["10.0.0.0/8"]}}`,
		warnings: []string{"spec.loadBalancerSourceRanges: accepted, not enforced yet: wake's Services do not act on it yet (no cloud load balancer, no topology routing)"},
	}, {
		name: "the service proxy's fields are enforced: no warning for them",
		kind: "Service",
		manifest: `{"spec":{"type":"LoadBalancer","ports":[{"port":80}],"externalIPs":["192.0.2.9"],"sessionAffinity":"ClientIP",` +
			`"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},"externalTrafficPolicy":"Local","internalTrafficPolicy":"Local"}}`,
		warnings: nil,
	}, {
		name:     "an Ingress is enforced, but for resource backends",
		kind:     "Ingress",
		manifest: `{"spec":{"ingressClassName":"wake","tls":[{"hosts":["a.test"],"secretName":"t"}],"defaultBackend":{"resource":{"kind":"Bucket","name":"b"}},"rules":[{"host":"a.test","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}},{"path":"/r","pathType":"Prefix","backend":{"resource":{"kind":"Bucket","name":"b"}}}]}}]}}`,
		warnings: []string{"spec.defaultBackend.resource, spec.rules[0].http.paths[1].backend.resource: accepted, not enforced yet: wake's ingress proxy routes only to Service backends; a resource backend gets no traffic"},
	}, {
		name:     "an IngressClass's controller is enforced, its parameters are not",
		kind:     "IngressClass",
		manifest: `{"spec":{"controller":"wake.run/ingress-controller","parameters":{"kind":"C","name":"c"}}}`,
		warnings: []string{"spec.parameters: accepted, not enforced yet: wake's ingress controller takes no parameters in this build"},
	}, {
		name:     "a claim's binding fields are enforced; a data source is refused",
		kind:     "PersistentVolumeClaim",
		manifest: `{"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"local-path","dataSource":{"kind":"VolumeSnapshot","name":"s"}}}`,
		refused:  []string{"spec.dataSource: Unsupported value: wake cannot populate a volume from a snapshot or another claim; copy the data in from an init container"},
	}, {
		name:     "a local or hostPath volume is enforced, mount options warn, network sources are refused",
		kind:     "PersistentVolume",
		manifest: `{"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain","hostPath":{"path":"/data"},"mountOptions":["ro"],"nfs":{"server":"x","path":"/"},"csi":{"driver":"d","volumeHandle":"h"}}}`,
		warnings: []string{"spec.mountOptions: accepted, not enforced yet: the node agent mounts the volume's directory without it in this build"},
		refused: []string{
			"spec.csi: Unsupported value: wake runs no CSI drivers; use the local-path StorageClass, or a hostPath or local volume",
			"spec.nfs: Unsupported value: wake runs no in-tree network storage plugins; use a persistentVolumeClaim or hostPath",
		},
	}, {
		name:     "a StorageClass's provisioner and policies are enforced, its parameters are not",
		kind:     "StorageClass",
		manifest: `{"provisioner":"wake.run/local-path","reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer","parameters":{"a":"b"}}`,
		warnings: []string{"parameters: accepted, not enforced yet: the built-in local-path provisioner does not use it in this build"},
	}, {
		name:     "a field wake has no rule for is an internal error, never dropped",
		kind:     "Endpoints",
		manifest: `{"subsets":[],"bogus":{"x":1}}`,
		refused:  []string{"bogus: Internal error: wake has no policy for this field"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := ByKind(tt.kind)
			var declared map[string]any
			if err := json.Unmarshal([]byte(tt.manifest), &declared); err != nil {
				t.Fatal(err)
			}
			warnings, refusedErrs := CheckFields(k, declared)
			if !slices.Equal(warnings, tt.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", warnings, tt.warnings)
			}
			if got := errorStrings(refusedErrs); !slices.Equal(got, tt.refused) {
				t.Errorf("refused:\n got %q\nwant %q", got, tt.refused)
			}
		})
	}
}

// errorStrings renders errs sorted, for comparisons that do not depend on order.
func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	slices.Sort(out)
	return out
}
