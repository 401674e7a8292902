package containerd_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

func TestImportedImagesAreListedByNormalisedName(t *testing.T) {
	r := rt(t)
	list, err := r.ListImages(testContext(t))
	must(t, err)
	refs := map[string]runtime.Image{}
	for _, img := range list {
		refs[img.Ref] = img
	}
	for _, want := range []string{images.BusyboxRef, images.HostnameWebRef} {
		img, ok := refs[want]
		if !ok || !strings.HasPrefix(img.Digest, "sha256:") || !strings.HasPrefix(img.ID, "sha256:") || img.Size <= 0 {
			t.Errorf("ListImages has %+v for %s (all: %+v)", img, want, list)
		}
	}
}

func TestEnsureImagePolicies(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	for _, policy := range []corev1.PullPolicy{corev1.PullNever, corev1.PullIfNotPresent, ""} {
		img, err := r.EnsureImage(ctx, "busybox:1.35", policy)
		if err != nil || img.Ref != images.BusyboxRef {
			t.Errorf("EnsureImage(busybox:1.35, %q) = %+v, %v; want the imported %s", policy, img, err, images.BusyboxRef)
		}
	}
	if _, err := r.EnsureImage(ctx, "wake.local/absent:1", corev1.PullNever); !errors.Is(err, runtime.ErrImageNeverPull) {
		t.Errorf("absent image with Never: %v, want ErrImageNeverPull", err)
	}
	if _, err := r.EnsureImage(ctx, "Upper/Case", corev1.PullIfNotPresent); !errors.Is(err, runtime.ErrInvalidImageName) {
		t.Errorf("invalid name: %v, want ErrInvalidImageName", err)
	}

	// A loopback port that refuses connections: the message says so.
	_, err := r.EnsureImage(ctx, "127.0.0.1:1/nope:1", corev1.PullIfNotPresent)
	var pullErr *runtime.PullError
	if !errors.Is(err, runtime.ErrImagePull) || !errors.As(err, &pullErr) || !strings.Contains(pullErr.Message, "connection refused") {
		t.Errorf("pull from a closed port: %v, want a PullError saying connection refused", err)
	} else {
		t.Logf("pull error message: %s", pullErr.Message)
	}
	// An imported image that no registry serves: Always must pull, and fails.
	if _, err := r.EnsureImage(ctx, images.HostnameWebRef, corev1.PullAlways); !errors.Is(err, runtime.ErrImagePull) {
		t.Errorf("Always for an image only imported: %v, want ErrImagePull", err)
	}
}

// TestPullFromRegistry pulls from an in-process registry on loopback:
// Always pulls, IfNotPresent then finds the image, a missing tag gives the
// registry's message, and the pulled image runs.
func TestPullFromRegistry(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := images.Busybox(context.Background(), images.BusyboxPath)
	must(t, err)
	tag, err := name.NewTag(host + "/test/busybox:1")
	must(t, err)
	must(t, remote.Write(tag, img))

	ref := host + "/test/busybox:1"
	pulled, err := r.EnsureImage(ctx, ref, corev1.PullAlways)
	must(t, err)
	if pulled.Ref != ref {
		t.Errorf("pulled %+v, want ref %s", pulled, ref)
	}
	digest, _ := img.Digest()
	if pulled.Digest != digest.String() {
		t.Errorf("pulled digest %s, registry has %s", pulled.Digest, digest)
	}
	srv.Close() // IfNotPresent must not need the registry now
	if again, err := r.EnsureImage(ctx, ref, corev1.PullIfNotPresent); err != nil || again != pulled {
		t.Errorf("IfNotPresent after a pull = %+v, %v", again, err)
	}

	sb := newPod(t, r, "pulled")
	id := start(t, r, sb, runtime.ContainerConfig{Name: "c", Image: ref, Command: []string{"echo", "pulled image runs"}})
	if exit := waitExit(t, r, id, 30*time.Second); exit.Code != 0 || readLog(t, r, id) != "pulled image runs\n" {
		t.Errorf("pulled image: exit %+v, log %q", exit, readLog(t, r, id))
	}
	must(t, r.RemoveContainer(ctx, id))

	srv2 := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv2.Close()
	missing := strings.TrimPrefix(srv2.URL, "http://") + "/test/missing:1"
	_, err = r.EnsureImage(ctx, missing, corev1.PullIfNotPresent)
	var pullErr *runtime.PullError
	if !errors.As(err, &pullErr) || !strings.Contains(pullErr.Message, "not found") {
		t.Errorf("missing tag: %v, want the registry's not found", err)
	} else {
		t.Logf("missing tag: %s", pullErr.Message)
	}
}
