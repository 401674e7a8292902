package object

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// validationCase is a manifest and the errors Validate must return for it after
// Default: each want is a prefix of one error (sorted), so long apimachinery
// explanations need not be repeated.
type validationCase struct {
	name, kind, manifest string
	want                 []string
}

func runValidation(t *testing.T, tests []validationCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := ByKind(tt.kind)
			if !ok {
				t.Fatalf("no kind %s", tt.kind)
			}
			obj := k.New()
			if err := yaml.UnmarshalStrict([]byte(tt.manifest), obj); err != nil {
				t.Fatal(err)
			}
			Default(obj)
			got := errorStrings(Validate(obj))
			want := slices.Clone(tt.want)
			slices.Sort(want)
			ok = len(got) == len(want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], want[i])
			}
			if !ok {
				t.Errorf("errors:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// pod is a valid Pod manifest whose spec has the given fields, plus one container
// unless the fields declare containers.
func pod(specFields string) string {
	if !strings.Contains(specFields, "containers:") { // "initContainers:" does not count
		specFields += ", containers: [{name: c, image: nginx}]"
	}
	return "{metadata: {name: p}, spec: {" + strings.TrimPrefix(specFields, ", ") + "}}"
}

// container is a Pod manifest with one container that has the given fields.
func container(fields string) string {
	return pod("containers: [{name: c, image: nginx, " + fields + "}]")
}

func TestValidateMetadata(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid", "ConfigMap", `{metadata: {name: web.config, namespace: dev, labels: {app: web}}}`, nil},
		{"generateName stands in for name", "ConfigMap", `{metadata: {generateName: web-}}`, nil},
		{"name required", "ConfigMap", `{metadata: {}}`, []string{"metadata.name: Required value: name or generateName is required"}},
		{"name is a DNS subdomain", "Pod", replace(pod(""), "name: p", "name: Web_1"),
			[]string{`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of`}},
		{"Service name is a DNS-1035 label", "Service", `{metadata: {name: 1web}, spec: {ports: [{port: 80}]}}`,
			[]string{`metadata.name: Invalid value: "1web": a DNS-1035 label must consist of`}},
		{"Namespace name is a DNS label", "Namespace", `{metadata: {name: a.b}}`,
			[]string{`metadata.name: Invalid value: "a.b": must not contain dots`}},
		{"Node name is a DNS subdomain", "Node", `{metadata: {name: node-1.example.com}}`, nil},
		{"namespace is a DNS label", "Secret", `{metadata: {name: s, namespace: Dev}}`,
			[]string{`metadata.namespace: Invalid value: "Dev": a lowercase RFC 1123 label must consist of`}},
		{"no namespace on a cluster-scoped kind", "Namespace", `{metadata: {name: dev, namespace: other}}`,
			[]string{"metadata.namespace: Forbidden: not allowed on this type: it is cluster-scoped"}},
		{"label keys and values", "ConfigMap", `{metadata: {name: c, labels: {"bad key": ok}}}`,
			[]string{`metadata.labels: Invalid value: "bad key": name part must consist of`}},
		{"annotations size", "ConfigMap", `{metadata: {name: c, annotations: {a: "` + strings.Repeat("x", 256*1024) + `"}}}`,
			[]string{"metadata.annotations: Too long: may not be more than 262144 bytes"}},
		{"owner references complete", "ConfigMap", `{metadata: {name: c, ownerReferences: [{apiVersion: v1, kind: Pod, name: p}]}}`,
			[]string{"metadata.ownerReferences[0].uid: Required value: must not be empty"}},
	})
}

// replace varies a manifest inline.
func replace(manifest, old, new string) string { return strings.Replace(manifest, old, new, 1) }

func TestValidatePodSpec(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid", "Pod", pod(""), nil},
		{"at least one container", "Pod", `{metadata: {name: p}, spec: {containers: []}}`,
			[]string{"spec.containers: Required value: a pod needs at least one container"}},
		{"container names unique across init containers", "Pod", pod("initContainers: [{name: c, image: busybox}], containers: [{name: c, image: nginx}]"),
			[]string{`spec.containers[0].name: Duplicate value: "c"`}},
		{"container name a DNS label", "Pod", pod("containers: [{name: Web, image: nginx}]"),
			[]string{`spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label`}},
		{"image required", "Pod", pod("containers: [{name: c}]"), []string{"spec.containers[0].image: Required value"}},
		{"ports", "Pod", container("ports: [{containerPort: 0}, {containerPort: 70000, hostPort: -1}, {name: http, containerPort: 80, protocol: ICMP}, {name: http, containerPort: 81}, {name: Bad_Name, containerPort: 82}]"),
			[]string{
				"spec.containers[0].ports[0].containerPort: Required value",
				"spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
				"spec.containers[0].ports[1].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
				`spec.containers[0].ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
				`spec.containers[0].ports[3].name: Duplicate value: "http"`,
				`spec.containers[0].ports[4].name: Invalid value: "Bad_Name": must contain only alpha-numeric characters`,
			}},
		{"env", "Pod", container(`env: [{name: "A=B"}, {name: S, valueFrom: {secretKeyRef: {name: s, key: k}, configMapKeyRef: {name: c, key: k}}}, {name: V, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: E, valueFrom: {}}, {name: "my.env-name"}]`),
			[]string{
				`spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
				`spec.containers[0].env[1].valueFrom: Invalid value: "": may not have more than one field specified at a time`,
				`spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when ` + "`value`" + ` is not empty`,
				`spec.containers[0].env[3].valueFrom: Invalid value: "": must specify one of:`,
			}},
		{"volumes and mounts", "Pod", pod(`volumes: [{name: data}, {name: data}, {name: two, hostPath: {path: /a}, emptyDir: {}}, {name: Bad}],
			containers: [{name: c, image: nginx, volumeMounts: [{name: data, mountPath: /data}, {name: data, mountPath: /data/}, {name: missing, mountPath: relative}, {name: two, mountPath: /x, subPath: ../etc}]}]`),
			[]string{
				`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data/": must be unique`,
				`spec.containers[0].volumeMounts[2].mountPath: Invalid value: "relative": must be an absolute path`,
				`spec.containers[0].volumeMounts[2].name: Not found: "missing"`,
				`spec.containers[0].volumeMounts[3].subPath: Invalid value: "../etc": must not contain '..'`,
				`spec.volumes[1].name: Duplicate value: "data"`,
				"spec.volumes[2].emptyDir: Forbidden: may not specify more than 1 volume type (also has hostPath)",
				`spec.volumes[3].name: Invalid value: "Bad": a lowercase RFC 1123 label`,
			}},
		{"resources", "Pod", container(`resources: {requests: {cpu: "2", memory: -1Gi, nvidia.com/gpu: "1"}, limits: {cpu: "1", gpu: "1", example.com/fpga: 500m}}`),
			[]string{
				`spec.containers[0].resources.limits: Forbidden: a limit must be set for nvidia.com/gpu, which cannot be overcommitted`,
				`spec.containers[0].resources.limits[example.com/fpga]: Invalid value: "500m": must be an integer`,
				`spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource named with a domain (example.com/gpu)`,
				`spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1`,
				`spec.containers[0].resources.requests[example.com/fpga]: Invalid value: "500m": must be an integer`,
				`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be cpu, memory`, // copied from limits by Default
				`spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0`,
			}},
		{"hugepages and pod-level pids", "Pod", pod(`resources: {limits: {pids: "2048"}}, containers: [{name: c, image: nginx, resources: {limits: {hugepages-2Mi: 1Gi, memory: 1Gi}}}]`), nil},
		{"policies", "Pod", pod("restartPolicy: Sometimes, dnsPolicy: None, terminationGracePeriodSeconds: -1, activeDeadlineSeconds: 0"),
			[]string{
				"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
				"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
				`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
				"spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
			}},
		{"probes", "Pod", container(`livenessProbe: {exec: {command: ["true"]}, tcpSocket: {port: 80}, successThreshold: 2},
			readinessProbe: {httpGet: {port: 0}, failureThreshold: -1}, startupProbe: {initialDelaySeconds: -5}`),
			[]string{
				"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
				"spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type (also has exec)",
				"spec.containers[0].readinessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 1",
				"spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"spec.containers[0].startupProbe: Required value: must specify a handler type",
				"spec.containers[0].startupProbe.initialDelaySeconds: Invalid value: -5: must be greater than or equal to 0",
			}},
		{"named probe port and grpc", "Pod", container(`ports: [{name: http, containerPort: 80}], livenessProbe: {httpGet: {port: http}}, readinessProbe: {grpc: {port: 9000}}`), nil},
		{"probes on init containers need restartPolicy Always", "Pod", pod(`initContainers: [{name: i, image: busybox, livenessProbe: {exec: {command: ["true"]}}}, {name: s, image: proxy, restartPolicy: Always, readinessProbe: {tcpSocket: {port: 80}}}]`),
			[]string{"spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy: Always"}},
		{"node selector labels", "Pod", pod(`nodeSelector: {"disk type": ssd}`), []string{`spec.nodeSelector: Invalid value: "disk type"`}},
		{"tolerations", "Pod", pod(`tolerations: [{key: a, operator: Exists, value: x}, {key: b, operator: Like}, {key: c, effect: Never}, {operator: Equal, value: v}, {key: d, effect: NoSchedule, tolerationSeconds: 5}, {key: e, operator: Gt, value: "900"}, {key: f, operator: Lt, value: high}]`),
			[]string{
				`spec.tolerations[0].operator: Invalid value: "x": value must be empty when ` + "`operator`" + ` is 'Exists'`,
				`spec.tolerations[1].operator: Unsupported value: "Like": supported values: "Equal", "Exists", "Gt", "Lt"`,
				`spec.tolerations[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
				`spec.tolerations[3].operator: Invalid value: "Equal": operator must be Exists when ` + "`key`" + ` is empty`,
				`spec.tolerations[4].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when ` + "`tolerationSeconds`" + ` is set`,
				`spec.tolerations[6].value: Invalid value: "high": must be an integer when ` + "`operator`" + ` is 'Lt' or 'Gt'`,
			}},
		{"affinity", "Pod", pod(`affinity: {
			nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In}, {key: cpus, operator: Gt, values: ["1", "2"]}, {key: x, operator: Near, values: [a]}, {key: y, operator: Exists, values: [a]}]}]},
				preferredDuringSchedulingIgnoredDuringExecution: [{weight: 0, preference: {matchExpressions: [{key: zone, operator: NotIn, values: [a]}]}}]},
			podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {app: web}}}]}}`),
			[]string{
				`spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100`,
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
				`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].operator: Unsupported value: "Near"`,
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[3].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
				"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
			}},
		{"node selector terms required", "Pod", pod(`affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}`),
			[]string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"}},
	})
}

// deployment is a valid Deployment manifest with extra spec fields.
func deployment(specFields string) string {
	return `{metadata: {name: web}, spec: {selector: {matchLabels: {app: web}},
		template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}` + specFields + `}}`
}

func TestValidateWorkloads(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid Deployment", "Deployment", deployment(""), nil},
		{"replicas", "Deployment", deployment(", replicas: -1"), []string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"selector required", "Deployment", `{metadata: {name: web}, spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}}`,
			[]string{"spec.selector: Required value"}},
		{"selector not empty", "ReplicaSet", `{metadata: {name: web}, spec: {selector: {}, template: {spec: {containers: [{name: web, image: nginx}]}}}}`,
			[]string{"spec.selector: Invalid value: {}: empty selector is invalid for replicaset"}},
		{"selector matches template", "Deployment", replace(deployment(""), "app: web}}, spec: {cont", "app: api}}, spec: {cont"),
			[]string{`spec.template.metadata.labels: Invalid value: {"app":"api"}: ` + "`selector` does not match template `labels`"}},
		{"template restartPolicy Always", "ReplicaSet", `{metadata: {name: web}, spec: {selector: {matchLabels: {app: web}},
			template: {metadata: {labels: {app: web}}, spec: {restartPolicy: Never, containers: [{name: web, image: nginx}]}}}}`,
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"the pod template is validated", "Deployment", replace(deployment(""), "image: nginx", "image: ''"),
			[]string{"spec.template.spec.containers[0].image: Required value"}},
		{"Recreate forbids rollingUpdate", "Deployment", deployment(", strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}"),
			[]string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"strategy type", "Deployment", deployment(", strategy: {type: BlueGreen}"),
			[]string{`spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"`}},
		{"maxSurge and maxUnavailable not both 0", "Deployment", deployment(", strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}}"),
			[]string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when ` + "`maxSurge` is 0"}},
		{"int or percent", "Deployment", deployment(`, strategy: {rollingUpdate: {maxSurge: "x", maxUnavailable: 150%}}`),
			[]string{
				`spec.strategy.rollingUpdate.maxSurge: Invalid value: "x": must be an integer or a percentage such as '25%'`,
				`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`,
			}},
		{"history and deadlines", "Deployment", deployment(", revisionHistoryLimit: -1, minReadySeconds: 30, progressDeadlineSeconds: 30"),
			[]string{
				"spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds",
				"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
			}},
	})
}

// service is a Service manifest with the given spec.
func service(spec string) string { return `{metadata: {name: web}, spec: ` + spec + `}` }

func TestValidateServiceAndEndpoints(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid", "Service", service(`{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: https, port: 443}]}`), nil},
		{"ports required", "Service", service(`{selector: {app: web}}`),
			[]string{"spec.ports: Required value: a service needs at least one port unless it is headless (clusterIP: None)"}},
		{"headless needs no ports", "Service", service(`{clusterIP: None, selector: {app: db}}`), nil},
		{"ExternalName needs a DNS name", "Service", service(`{type: ExternalName}`),
			[]string{"spec.externalName: Required value: an ExternalName service needs the DNS name it aliases"}},
		{"ExternalName", "Service", service(`{type: ExternalName, externalName: db.example.com.}`), nil},
		{"ports", "Service", service(`{ports: [{port: 0}, {port: 80, targetPort: 70000, protocol: HTTP}, {name: a, port: 81}, {name: a, port: 82, targetPort: bad_name}]}`),
			[]string{
				"spec.ports[0].name: Required value: each port needs a name when a service has more than one",
				"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"spec.ports[1].name: Required value",
				`spec.ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
				"spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
				`spec.ports[3].name: Duplicate value: "a"`,
				`spec.ports[3].targetPort: Invalid value: "bad_name"`,
			}},
		{"nodePort only for NodePort and LoadBalancer", "Service", service(`{ports: [{port: 80, nodePort: 30080}]}`),
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"nodePort range", "Service", service(`{type: NodePort, ports: [{port: 80, nodePort: 8080}]}`),
			[]string{"spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
		{"type, clusterIP, affinity, selector", "Service", service(`{type: Internal, clusterIP: 10.0.0.300, sessionAffinity: Cookie, selector: {app: "no spaces"}, ports: [{port: 80}]}`),
			[]string{
				`spec.clusterIP: Invalid value: "10.0.0.300": must be a valid IP address`,
				`spec.selector: Invalid value: "no spaces"`,
				`spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"`,
				`spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
			}},
		{"headless only for ClusterIP", "Service", service(`{type: NodePort, clusterIP: None, ports: [{port: 80}]}`),
			[]string{`spec.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services`}},
		{"valid Endpoints", "Endpoints", `{metadata: {name: db}, subsets: [{addresses: [{ip: 10.1.2.3}], ports: [{port: 5432}]}]}`, nil},
		{"Endpoints", "Endpoints", `{metadata: {name: db}, subsets: [{ports: [{port: 80}]}, {addresses: [{ip: 10.1.2}, {ip: 127.0.0.1}], ports: [{name: a, port: 0}, {port: 81}]}]}`,
			[]string{
				"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
				`subsets[1].addresses[0].ip: Invalid value: "10.1.2": must be a valid IP address`,
				`subsets[1].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`,
				"subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"subsets[1].ports[1].name: Required value: each port needs a name when a subset has more than one",
			}},
	})
}

// ingress is an Ingress manifest with the given spec.
func ingress(spec string) string { return `{metadata: {name: web}, spec: ` + spec + `}` }

func TestValidateIngress(t *testing.T) {
	backend := `{service: {name: web, port: {number: 80}}}`
	runValidation(t, []validationCase{
		{"valid", "Ingress", ingress(`{ingressClassName: nginx, tls: [{hosts: ["*.example.com"], secretName: tls}],
			rules: [{host: "*.example.com", http: {paths: [{path: /, pathType: Prefix, backend: ` + backend + `}]}}]}`), nil},
		{"rules or default backend", "Ingress", ingress(`{}`),
			[]string{"spec: Required value: either `defaultBackend` or `rules` must be specified"}},
		{"host is a DNS name", "Ingress", ingress(`{rules: [{host: 10.0.0.1}, {host: "Foo.example.com"}]}`),
			[]string{
				`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`,
				`spec.rules[1].host: Invalid value: "Foo.example.com": a lowercase RFC 1123 subdomain`,
			}},
		{"paths", "Ingress", ingress(`{rules: [{http: {paths: [{path: api, pathType: Prefix, backend: ` + backend + `}, {path: /x, backend: ` + backend + `}, {path: /y, pathType: Regex, backend: ` + backend + `}]}}]}`),
			[]string{
				`spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path`,
				"spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified: Exact, Prefix or ImplementationSpecific",
				`spec.rules[0].http.paths[2].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`,
			}},
		{"backends", "Ingress", ingress(`{defaultBackend: {service: {name: web, port: {name: http, number: 80}}, resource: {kind: Bucket, name: b}},
			rules: [{http: {paths: [{path: /, pathType: Exact, backend: {}}, {path: /s, pathType: Exact, backend: {service: {name: web, port: {}}}}]}}]}`),
			[]string{
				"spec.defaultBackend: Invalid value: \"\": cannot set both `service` and `resource` backends",
				"spec.rules[0].http.paths[0].backend: Required value: a backend needs a `service` or a `resource`",
				"spec.rules[0].http.paths[1].backend.service.port: Required value: port name or number is required",
			}},
	})
}

func TestValidateIngressClass(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid", "IngressClass", `{metadata: {name: wake}, spec: {controller: wake.run/ingress-controller, parameters: {kind: Config, name: c, scope: Cluster}}}`, nil},
		{"controller required", "IngressClass", `{metadata: {name: x}, spec: {}}`,
			[]string{"spec.controller: Required value: the controller that serves this class, e.g. wake.run/ingress-controller"}},
		{"controller is a domain-prefixed path; parameters name a kind and an object", "IngressClass",
			`{metadata: {name: x}, spec: {controller: nginx, parameters: {name: "", kind: "", scope: Pod}}}`,
			[]string{
				`spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")`,
				"spec.parameters.kind: Required value",
				"spec.parameters.name: Required value",
				`spec.parameters.scope: Unsupported value: "Pod": supported values: "Cluster", "Namespace"`,
			}},
	})
}

func TestValidateConfigAndSecrets(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	runValidation(t, []validationCase{
		{"valid ConfigMap", "ConfigMap", `{metadata: {name: c}, data: {app.properties: x, KEY_1: y}, binaryData: {logo.png: iVBO}}`, nil},
		{"ConfigMap keys", "ConfigMap", `{metadata: {name: c}, data: {"bad/key": x, k: y}, binaryData: {k: eQ==}}`,
			[]string{
				`binaryData[k]: Invalid value: "k": duplicate of key present in data`,
				`data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters`,
			}},
		{"ConfigMap size", "ConfigMap", `{metadata: {name: c}, data: {a: ` + big + `x}}`, []string{"data: Too long: may not be more than 1048576 bytes"}},
		{"Secret keys", "Secret", `{metadata: {name: s}, stringData: {"..": x}}`, []string{`data[..]: Invalid value: "..": must not be '..'`}},
		{"TLS Secret", "Secret", `{metadata: {name: s}, type: kubernetes.io/tls, stringData: {tls.crt: x}}`,
			[]string{"data[tls.key]: Required value: a Secret of type kubernetes.io/tls needs data[tls.key]"}},
		{"docker config Secret", "Secret", `{metadata: {name: s}, type: kubernetes.io/dockerconfigjson, stringData: {.dockerconfigjson: "{"}}`,
			[]string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": must be valid JSON`}},
		{"sealed docker config Secret: its value is ciphertext", "Secret",
			`{metadata: {name: s, annotations: {wake.io/sealed: "1"}}, type: kubernetes.io/dockerconfigjson, data: {.dockerconfigjson: c2VhbGVkLWJ5dGVz}}`, nil},
		{"docker config Secret key", "Secret", `{metadata: {name: s}, type: kubernetes.io/dockerconfigjson}`,
			[]string{"data[.dockerconfigjson]: Required value: a Secret of type kubernetes.io/dockerconfigjson needs data[.dockerconfigjson]"}},
		{"basic auth Secret", "Secret", `{metadata: {name: s}, type: kubernetes.io/basic-auth, stringData: {user: x}}`,
			[]string{"data[username]: Required value: a Secret of type kubernetes.io/basic-auth needs data[username] or data[password]"}},
		{"ssh auth Secret", "Secret", `{metadata: {name: s}, type: kubernetes.io/ssh-auth}`,
			[]string{"data[ssh-privatekey]: Required value: a Secret of type kubernetes.io/ssh-auth needs data[ssh-privatekey]"}},
		{"service account token Secret", "Secret", `{metadata: {name: s}, type: kubernetes.io/service-account-token}`,
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
		{"custom Secret type", "Secret", `{metadata: {name: s}, type: example.com/token, stringData: {t: x}}`, nil},
	})
}

func TestValidateNodeAndNamespace(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid Node", "Node", `{metadata: {name: n1}, spec: {podCIDR: 10.244.1.0/24, taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}}`, nil},
		{"Node", "Node", `{metadata: {name: n1}, spec: {podCIDR: 10.244.1.0/33, taints: [{key: a, effect: Sometimes}, {key: b, effect: NoExecute}, {key: b, value: x, effect: NoExecute}, {effect: NoSchedule}]}}`,
			[]string{
				`spec.podCIDR: Invalid value: "10.244.1.0/33": must be a valid CIDR value`,
				`spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
				`spec.taints[2]: Duplicate value: "taints must be unique by key and effect pair"`,
				"spec.taints[3].key: Required value",
			}},
		{"Namespace finalizers", "Namespace", `{metadata: {name: dev}, spec: {finalizers: ["bad finalizer"]}}`,
			[]string{`spec.finalizers[0]: Invalid value: "bad finalizer"`}},
	})
}

func TestValidateUpdate(t *testing.T) {
	tests := []struct {
		name, kind, old, new string
		want                 []string
	}{
		{"Namespace labels may change", "Namespace", `{metadata: {name: dev}}`, `{metadata: {name: dev, labels: {team: a}}}`, nil},
		{"name is immutable", "ConfigMap", `{metadata: {name: a}}`, `{metadata: {name: b}}`, []string{`metadata.name: Invalid value: "b": field is immutable`}},
		{"Deployment selector is immutable", "Deployment", deployment(""), replace(replace(deployment(""), "matchLabels: {app: web}", "matchLabels: {app: web, tier: front}"), "labels: {app: web}", "labels: {app: web, tier: front}"),
			[]string{`spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable`}},
		{"Deployment replicas and template may change", "Deployment", deployment(""), replace(deployment(", replicas: 5"), "image: nginx", "image: nginx:2"), nil},
		{"ReplicaSet selector is immutable", "ReplicaSet", deployment(""), replace(deployment(""), "matchLabels: {app: web}", "matchExpressions: [{key: app, operator: Exists}]"),
			[]string{`spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Exists"}]}: field is immutable`}},
		{"Pod images, grace period and added tolerations may change", "Pod",
			pod("initContainers: [{name: i, image: busybox:1, imagePullPolicy: Always}], containers: [{name: c, image: nginx:1}], tolerations: [{key: a, operator: Exists}]"),
			pod("initContainers: [{name: i, image: busybox:2, imagePullPolicy: Always}], containers: [{name: c, image: nginx:2}], terminationGracePeriodSeconds: 5, activeDeadlineSeconds: 60, tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]"),
			nil},
		{"Pod spec fields are immutable", "Pod", container("ports: [{containerPort: 80}]"), container("ports: [{containerPort: 81}], env: [{name: A, value: b}]"),
			[]string{
				"spec.containers[0].env: Forbidden: pod updates may not change fields other than `spec.containers[*].image`",
				"spec.containers[0].ports[0].containerPort: Forbidden: pod updates may not change fields other than",
			}},
		{"Pod containers may not be added", "Pod", pod(""), pod("containers: [{name: c, image: nginx}, {name: d, image: nginx}]"),
			[]string{"spec.containers: Forbidden: pod updates may not change fields other than"}},
		{"Pod tolerations may only be added", "Pod", pod("tolerations: [{key: a, operator: Exists}]"), pod("tolerations: [{key: b, operator: Exists}]"),
			[]string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{"Pod activeDeadlineSeconds may only shrink", "Pod", pod("activeDeadlineSeconds: 60"), pod("activeDeadlineSeconds: 90"),
			[]string{"spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to the previous value, 60"}},
		{"Service clusterIP is immutable once set", "Service", service(`{clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{port: 53}]}`),
			service(`{clusterIP: 10.96.0.11, clusterIPs: [10.96.0.11], ports: [{port: 53}]}`),
			[]string{
				`spec.clusterIP: Invalid value: "10.96.0.11": field is immutable once set`,
				`spec.clusterIPs: Invalid value: ["10.96.0.11"]: the primary cluster IP is immutable once set`,
			}},
		{"Service clusterIP may change with the type to ExternalName", "Service", service(`{clusterIP: 10.96.0.10, ports: [{port: 53}]}`),
			service(`{type: ExternalName, externalName: dns.example.com}`), nil},
		{"immutable ConfigMap data", "ConfigMap", `{metadata: {name: c}, immutable: true, data: {a: b}}`, `{metadata: {name: c}, data: {a: c}}`,
			[]string{"data: Forbidden: field is immutable when `immutable` is set", "immutable: Forbidden: field is immutable when `immutable` is set"}},
		{"mutable ConfigMap data", "ConfigMap", `{metadata: {name: c}, data: {a: b}}`, `{metadata: {name: c}, immutable: true, data: {a: c}}`, nil},
		{"immutable Secret data and type", "Secret", `{metadata: {name: s}, immutable: true, stringData: {a: b}}`, `{metadata: {name: s}, immutable: true, type: kubernetes.io/basic-auth, stringData: {username: b}}`,
			[]string{"data: Forbidden: field is immutable when `immutable` is set", `type: Invalid value: "kubernetes.io/basic-auth": field is immutable`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := ByKind(tt.kind)
			objs := []Object{k.New(), k.New()}
			for i, m := range []string{tt.old, tt.new} {
				if err := yaml.UnmarshalStrict([]byte(m), objs[i]); err != nil {
					t.Fatal(err)
				}
				Default(objs[i])
				if errs := Validate(objs[i]); len(errs) > 0 {
					t.Fatalf("invalid test object: %v", errs)
				}
			}
			got := errorStrings(ValidateUpdate(objs[0], objs[1]))
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateUpdateRefusesAKindChange(t *testing.T) {
	errs := ValidateUpdate(&corev1.ConfigMap{}, &corev1.Secret{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "may not change") {
		t.Errorf("got %v", errs)
	}
}

func ExampleValidate() {
	k, _ := ByKind("Service")
	svc := k.New()
	_ = yaml.Unmarshal([]byte(`{metadata: {name: web}, spec: {ports: [{port: 80, nodePort: 30080}]}}`), svc)
	Default(svc)
	for _, e := range Validate(svc) {
		fmt.Println(e)
	}
	// Output: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'
}
