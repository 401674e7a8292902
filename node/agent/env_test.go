package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeConfig is a configSource over maps.
type fakeConfig struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeConfig) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, &notFoundError{kind: "configmap", name: name}
}

func (f fakeConfig) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, &notFoundError{kind: "secret", name: name}
}

var testConfig = fakeConfig{
	cms: map[string]*corev1.ConfigMap{"shop/cfg": {Data: map[string]string{"mode": "fast", "LEVEL": "3", "bad key": "x"},
		BinaryData: map[string][]byte{"blob": {0, 1}}}},
	secrets: map[string]*corev1.Secret{"shop/db": {Data: map[string][]byte{"username": []byte("admin"), "password": []byte("s3cr3t")}}},
}

func testPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-1",
		Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": `say "hi"`}},
		Spec: corev1.PodSpec{NodeName: "node-c", Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}}}}
}

var testFacts = podFacts{podIP: "10.66.12.5", hostIP: "10.66.12.1", nodeCPU: resource.MustParse("2"), nodeMemory: resource.MustParse("1Gi")}

func yes() *bool { b := true; return &b }

func cmKey(name, key string, opt *bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: opt}}
}

func secretKey(name, key string, opt *bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: opt}}
}

func field(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
}

func resField(res, divisor string) *corev1.EnvVarSource {
	r := &corev1.ResourceFieldSelector{Resource: res}
	if divisor != "" {
		r.Divisor = resource.MustParse(divisor)
	}
	return &corev1.EnvVarSource{ResourceFieldRef: r}
}

func TestContainerEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    string // the variables, joined by ";"
		err     string
	}{
		{name: "literal and expansion",
			env:  []corev1.EnvVar{{Name: "A", Value: "x"}, {Name: "B", Value: "$(A)-$(NOPE)-$$(A)"}},
			want: "A=x;B=x-$(NOPE)-$(A)"},
		{name: "configMapKeyRef and secretKeyRef",
			env:  []corev1.EnvVar{{Name: "MODE", ValueFrom: cmKey("cfg", "mode", nil)}, {Name: "SECRET_USERNAME", ValueFrom: secretKey("db", "username", nil)}},
			want: "MODE=fast;SECRET_USERNAME=admin"},
		{name: "optional missing key and object are left out",
			env: []corev1.EnvVar{{Name: "A", ValueFrom: cmKey("cfg", "nope", yes())}, {Name: "B", ValueFrom: cmKey("gone", "k", yes())},
				{Name: "C", ValueFrom: secretKey("db", "nope", yes())}, {Name: "D", ValueFrom: secretKey("gone", "k", yes())}, {Name: "E", Value: "e"}},
			want: "E=e"},
		{name: "missing required configmap", env: []corev1.EnvVar{{Name: "A", ValueFrom: cmKey("gone", "k", nil)}}, err: `configmap "gone" not found`},
		{name: "missing required configmap key", env: []corev1.EnvVar{{Name: "A", ValueFrom: cmKey("cfg", "k", nil)}}, err: `couldn't find key k in ConfigMap shop/cfg`},
		{name: "missing required secret", env: []corev1.EnvVar{{Name: "A", ValueFrom: secretKey("gone", "k", nil)}}, err: `secret "gone" not found`},
		{name: "missing required secret key", env: []corev1.EnvVar{{Name: "A", ValueFrom: secretKey("db", "k", nil)}}, err: `couldn't find key k in Secret shop/db`},
		{name: "envFrom with prefix, invalid names skipped, env wins",
			envFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: yes()}}},
			env:  []corev1.EnvVar{{Name: "CFG_mode", Value: "slow"}},
			want: "CFG_LEVEL=3;CFG_mode=slow;password=s3cr3t;username=admin"},
		{name: "envFrom missing required", envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}},
			err: `secret "gone" not found`},
		{name: "downward API fields",
			env: []corev1.EnvVar{{Name: "N", ValueFrom: field("metadata.name")}, {Name: "NS", ValueFrom: field("metadata.namespace")},
				{Name: "U", ValueFrom: field("metadata.uid")}, {Name: "L", ValueFrom: field("metadata.labels['app']")},
				{Name: "AN", ValueFrom: field("metadata.annotations['note']")}, {Name: "NODE", ValueFrom: field("spec.nodeName")},
				{Name: "SA", ValueFrom: field("spec.serviceAccountName")}, {Name: "IP", ValueFrom: field("status.podIP")},
				{Name: "HOST", ValueFrom: field("status.hostIP")}, {Name: "URL", Value: "http://$(IP):80/$(N)"}},
			want: `N=web-1;NS=shop;U=u-1;L=web;AN=say "hi";NODE=node-c;SA=default;IP=10.66.12.5;HOST=10.66.12.1;URL=http://10.66.12.5:80/web-1`},
		{name: "resource fields with divisors and node capacity",
			env: []corev1.EnvVar{{Name: "MEM", ValueFrom: resField("limits.memory", "1Mi")}, {Name: "MEMB", ValueFrom: resField("limits.memory", "")},
				{Name: "CPU", ValueFrom: resField("requests.cpu", "1m")}, {Name: "CPU1", ValueFrom: resField("requests.cpu", "")},
				{Name: "LCPU", ValueFrom: resField("limits.cpu", "")}, {Name: "NOREQ", ValueFrom: resField("requests.memory", "")}},
			want: "MEM=64;MEMB=67108864;CPU=250;CPU1=1;LCPU=2;NOREQ=0"},
		{name: "unknown field path", env: []corev1.EnvVar{{Name: "X", ValueFrom: field("spec.nope")}}, err: `unsupported fieldRef fieldPath "spec.nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod()
			c := &pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tc.env, tc.envFrom
			got, err := containerEnv(c, pod, testFacts, testConfig)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, ";"); s != tc.want {
				t.Errorf("env =\n%s\nwant\n%s", s, tc.want)
			}
		})
	}
}

func TestUsesConfig(t *testing.T) {
	pod := testPod()
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: cmKey("env-cm", "k", nil)}}
	pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "from-secret"}}}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
		{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}}}}}},
	}
	for _, tc := range []struct {
		kind, name string
		want       bool
	}{
		{"ConfigMap", "env-cm", true}, {"Secret", "env-cm", false}, {"Secret", "from-secret", true}, {"ConfigMap", "from-secret", false},
		{"secret", "vol-secret", true}, {"configmap", "proj-cm", true}, {"ConfigMap", "other", false},
	} {
		if got := usesConfig(pod, tc.kind, tc.name); got != tc.want {
			t.Errorf("usesConfig(%s %s) = %v, want %v", tc.kind, tc.name, got, tc.want)
		}
	}
}
