package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// dockerAuth is one registry's entry of a docker config (.dockerconfigjson's
// "auths", or the whole of a legacy .dockercfg).
type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"` // base64 of username:password
}

// registryCredentials reads the registry credentials of the Secrets of a
// pod's imagePullSecrets, in order: a host named by several keeps the first.
// Kubernetes' two docker Secret types are read (kubernetes.io/dockerconfigjson
// and the legacy kubernetes.io/dockercfg); a Secret of another type, or an
// entry without a user name and password, gives nothing. It is pure.
func registryCredentials(secrets []*corev1.Secret) ([]runtime.Credential, error) {
	var out []runtime.Credential
	seen := map[string]bool{}
	for _, s := range secrets {
		var auths map[string]dockerAuth
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			var cfg struct {
				Auths map[string]dockerAuth `json:"auths"`
			}
			if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
				return nil, fmt.Errorf("secret %q: %s: %v", s.Name, corev1.DockerConfigJsonKey, err)
			}
			auths = cfg.Auths
		case corev1.SecretTypeDockercfg:
			if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
				return nil, fmt.Errorf("secret %q: %s: %v", s.Name, corev1.DockerConfigKey, err)
			}
		default:
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(auths)) {
			a := auths[key]
			user, pass := a.Username, a.Password
			if a.Auth != "" {
				raw, err := base64.StdEncoding.DecodeString(a.Auth)
				if err != nil {
					return nil, fmt.Errorf("secret %q: auth of %q is not base64: %v", s.Name, key, err)
				}
				user, pass, _ = strings.Cut(string(raw), ":")
			}
			host := registryHost(key)
			if host == "" || user == "" || seen[host] {
				continue
			}
			seen[host] = true
			out = append(out, runtime.Credential{Host: host, Username: user, Password: pass})
		}
	}
	return out, nil
}

// registryHost is the host a docker config key names, as containerd addresses
// it: "https://reg:5000/v2/" -> "reg:5000"; Docker Hub's names
// ("https://index.docker.io/v1/", "docker.io") -> "registry-1.docker.io".
func registryHost(key string) string {
	if !strings.Contains(key, "://") {
		key = "https://" + key
	}
	u, err := url.Parse(key)
	if err != nil {
		return ""
	}
	switch u.Host {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return u.Host
}

// pullCredentials are the registry credentials of the pod's imagePullSecrets.
// A Secret that does not exist is passed over (the pull goes on without it,
// as the kubelet's does) and said in the returned note.
func (w *worker) pullCredentials(ctx context.Context) ([]runtime.Credential, string, error) {
	var secrets []*corev1.Secret
	var missing []string
	src := w.a.configSource(ctx)
	for _, ref := range w.pod.Spec.ImagePullSecrets {
		s, err := src.Secret(w.ns, ref.Name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%q (%v)", ref.Name, err))
			continue
		}
		secrets = append(secrets, s)
	}
	creds, err := registryCredentials(secrets)
	note := ""
	if len(missing) > 0 {
		note = "unable to retrieve some image pull secrets " + strings.Join(missing, ", ") + "; attempting to pull the image may not succeed"
	}
	return creds, note, err
}
