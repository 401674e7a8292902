package agent_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/wake-run/wake/deploy/images"
	corev1 "k8s.io/api/core/v1"
)

// privateRegistry serves an OCI registry on loopback that answers only a
// client signed in as user/pass, and counts the requests it refused.
func privateRegistry(t *testing.T, user, pass string) (host string, refused *atomic.Int64) {
	t.Helper()
	refused = new(atomic.Int64)
	reg := registry.New(registry.Logger(stdlog.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="wake-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), refused
}

// TestImagePullSecrets pulls an image from a registry that needs credentials:
// without the pod's imagePullSecrets the pull is refused (ErrImagePull with
// the registry's answer); with a docker-registry Secret it runs.
func TestImagePullSecrets(t *testing.T) {
	cl := startClusterWith(t, 0, "node-i", "10.66.16.0/24", "wke2ei")
	host, refused := privateRegistry(t, "puller", "s3cret-pull")

	imgs, err := images.Demo(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/private/web:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, imgs["wake.local/hostname-web:1"], remote.WithAuth(&authn.Basic{Username: "puller", Password: "s3cret-pull"})); err != nil {
		t.Fatalf("push to the test registry: %v", err)
	}

	pod := func(podName, secrets string, policy ...string) string {
		pull := "IfNotPresent"
		if len(policy) > 0 {
			pull = policy[0]
		}
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 0
  %s
  containers:
  - name: web
    image: %s/private/web:1
    imagePullPolicy: %s
`, podName, secrets, host, pull)
	}
	before := refused.Load()
	cl.apply(pod("anonymous", ""))
	eventually(t, "the anonymous pull refused", 60*time.Second, func() bool {
		p := cl.pod("anonymous")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") && strings.Contains(w.Message, "authorization failed")
	})
	if refused.Load() == before {
		t.Fatal("the registry refused nothing, yet the pull failed")
	}

	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret-pull"))
	cl.apply(`apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: ` + base64.StdEncoding.EncodeToString([]byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)) + "\n")
	cl.apply(pod("signed-in", "imagePullSecrets: [{name: regcred}]"))
	deadline := time.Now().Add(60 * time.Second)
	for p := cl.pod("signed-in"); p == nil || p.Status.Phase != corev1.PodRunning; p = cl.pod("signed-in") {
		if time.Now().After(deadline) {
			var st any
			if p != nil {
				st = p.Status.ContainerStatuses
			}
			t.Fatalf("the pod with the pull secret is not running within 60s: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A pod whose pull Secret does not exist is told so beside the
	// registry's refusal (Always: the image is on the node by now).
	cl.apply(pod("missing-secret", "imagePullSecrets: [{name: nope}]", "Always"))
	eventually(t, "the missing pull secret named", 60*time.Second, func() bool {
		p := cl.pod("missing-secret")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		return strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, `unable to retrieve some image pull secrets "nope"`)
	})
}
