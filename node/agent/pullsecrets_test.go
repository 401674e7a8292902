package agent

import (
	"encoding/base64"
	"reflect"
	"testing"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func dockerSecret(name string, typ corev1.SecretType, key, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: typ, Data: map[string][]byte{key: []byte(value)}}
}

func TestRegistryCredentials(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:pa:ss"))
	for _, tc := range []struct {
		name    string
		secrets []*corev1.Secret
		want    []runtime.Credential
		err     string
	}{
		{name: "dockerconfigjson with username and password",
			secrets: []*corev1.Secret{dockerSecret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"}}}`)},
			want: []runtime.Credential{{Host: "127.0.0.1:5000", Username: "u", Password: "p"}}},
		{name: "auth field wins, password may hold a colon; scheme and path dropped",
			secrets: []*corev1.Secret{dockerSecret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths":{"https://reg.example:8443/v2/":{"username":"x","auth":"`+auth+`"}}}`)},
			want: []runtime.Credential{{Host: "reg.example:8443", Username: "bob", Password: "pa:ss"}}},
		{name: "Docker Hub's names are the host containerd pulls from",
			secrets: []*corev1.Secret{dockerSecret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`)},
			want: []runtime.Credential{{Host: "registry-1.docker.io", Username: "u", Password: "p"}}},
		{name: "legacy dockercfg",
			secrets: []*corev1.Secret{dockerSecret("s", corev1.SecretTypeDockercfg, ".dockercfg",
				`{"reg:5000":{"username":"u","password":"p"}}`)},
			want: []runtime.Credential{{Host: "reg:5000", Username: "u", Password: "p"}}},
		{name: "the first Secret naming a host wins; other types give nothing",
			secrets: []*corev1.Secret{
				dockerSecret("opaque", corev1.SecretTypeOpaque, "x", "y"),
				dockerSecret("a", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"reg":{"username":"first","password":"1"}}}`),
				dockerSecret("b", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"reg":{"username":"second","password":"2"},"other":{"username":"o","password":"3"}}}`),
			},
			want: []runtime.Credential{{Host: "reg", Username: "first", Password: "1"}, {Host: "other", Username: "o", Password: "3"}}},
		{name: "entry without a user is passed over",
			secrets: []*corev1.Secret{dockerSecret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"reg":{}}}`)}},
		{name: "malformed config names the Secret",
			secrets: []*corev1.Secret{dockerSecret("bad", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{`)},
			err:     `secret "bad": .dockerconfigjson: unexpected end of JSON input`},
		{name: "auth that is not base64",
			secrets: []*corev1.Secret{dockerSecret("bad", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"reg":{"auth":"%%%"}}}`)},
			err:     `secret "bad": auth of "reg" is not base64: illegal base64 data at input byte 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := registryCredentials(tc.secrets)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
