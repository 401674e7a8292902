package runtime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

func p[T any](v T) *T { return &v }

func TestSecurityForMergesPodAndContainer(t *testing.T) {
	pod := func(sc *corev1.PodSecurityContext, c *corev1.SecurityContext) (*corev1.Pod, *corev1.Container) {
		ctr := corev1.Container{Name: "c", SecurityContext: c}
		return &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: sc, Containers: []corev1.Container{ctr}}}, &ctr
	}
	for _, tc := range []struct {
		name string
		psc  *corev1.PodSecurityContext
		csc  *corev1.SecurityContext
		want runtime.Security
	}{
		{name: "nothing set", want: runtime.Security{}},
		{name: "pod user and group", psc: &corev1.PodSecurityContext{RunAsUser: p[int64](1000), RunAsGroup: p[int64](3000)},
			want: runtime.Security{RunAsUser: p[int64](1000), RunAsGroup: p[int64](3000)}},
		{name: "container user wins", psc: &corev1.PodSecurityContext{RunAsUser: p[int64](1000), RunAsGroup: p[int64](3000)}, csc: &corev1.SecurityContext{RunAsUser: p[int64](2000)},
			want: runtime.Security{RunAsUser: p[int64](2000), RunAsGroup: p[int64](3000)}},
		{name: "container may lift the pod's runAsNonRoot", psc: &corev1.PodSecurityContext{RunAsNonRoot: p(true)}, csc: &corev1.SecurityContext{RunAsNonRoot: p(false)},
			want: runtime.Security{}},
		{name: "fsGroup first, then supplemental groups, once each", psc: &corev1.PodSecurityContext{FSGroup: p[int64](2000), SupplementalGroups: []int64{4000, 2000, 5000}},
			want: runtime.Security{SupplementalGroups: []int64{2000, 4000, 5000}}},
		{name: "container-only fields", csc: &corev1.SecurityContext{Privileged: p(true), ReadOnlyRootFilesystem: p(true), AllowPrivilegeEscalation: p(false),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}},
			want: runtime.Security{Privileged: true, ReadOnlyRootFilesystem: true, NoNewPrivileges: true, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}}},
		{name: "allowPrivilegeEscalation true is the default", csc: &corev1.SecurityContext{AllowPrivilegeEscalation: p(true)}, want: runtime.Security{}},
		{name: "pod seccomp", psc: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			want: runtime.Security{Seccomp: "Unconfined"}},
		{name: "container seccomp wins", psc: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			csc:  &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: p("audit.json")}},
			want: runtime.Security{Seccomp: "Localhost", SeccompLocalhostProfile: "audit.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod, c := pod(tc.psc, tc.csc)
			if got := runtime.SecurityFor(pod, c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SecurityFor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheckRunAsNonRoot(t *testing.T) {
	const pod = "web_default(u1)"
	for _, tc := range []struct {
		name      string
		sec       runtime.Security
		imageUser string
		want      string // "" when allowed
	}{
		{name: "not asked", imageUser: "", want: ""},
		{name: "image without user is root", sec: runtime.Security{RunAsNonRoot: true}, imageUser: "",
			want: `container has runAsNonRoot and image will run as root (pod: "web_default(u1)", container: app)`},
		{name: "image uid 0 with group", sec: runtime.Security{RunAsNonRoot: true}, imageUser: "0:1000",
			want: `container has runAsNonRoot and image will run as root (pod: "web_default(u1)", container: app)`},
		{name: "image user by name cannot be verified", sec: runtime.Security{RunAsNonRoot: true}, imageUser: "nginx",
			want: `container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root (pod: "web_default(u1)", container: app)`},
		{name: "image numeric non-root user", sec: runtime.Security{RunAsNonRoot: true}, imageUser: "65534:65534", want: ""},
		{name: "runAsUser non-root wins over a root image", sec: runtime.Security{RunAsNonRoot: true, RunAsUser: p[int64](1000)}, imageUser: "", want: ""},
		{name: "runAsUser 0", sec: runtime.Security{RunAsNonRoot: true, RunAsUser: p[int64](0)}, imageUser: "1000",
			want: `container's runAsUser breaks non-root policy (pod: "web_default(u1)", container: app)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runtime.CheckRunAsNonRoot(tc.sec, tc.imageUser, pod, "app")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("allowed, want %q", tc.want)
			case tc.want != "" && (err.Error() != tc.want || !errors.Is(err, runtime.ErrConfig)):
				t.Fatalf("error %q (ErrConfig %v), want %q", err, errors.Is(err, runtime.ErrConfig), tc.want)
			}
		})
	}
}

// defaultSpec is containerd's default spec, the base every container's spec
// is built on.
func defaultSpec(t *testing.T) *specs.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hasNamespace(s *specs.Spec, kind specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == kind })
}

func TestSecuritySpecOpts(t *testing.T) {
	base := defaultSpec(t)
	defaultCaps := base.Process.Capabilities.Bounding
	if !slices.Contains(defaultCaps, "CAP_CHOWN") || slices.Contains(defaultCaps, "CAP_SYS_ADMIN") {
		t.Fatalf("containerd's default capabilities changed: %v", defaultCaps)
	}
	seccompDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(seccompDir, "deny-mkdir.json"), []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	without := func(caps []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return slices.Contains(drop, c) })
	}
	for _, tc := range []struct {
		name  string
		sec   runtime.Security
		check func(t *testing.T, s *specs.Spec)
	}{
		{name: "default: containerd's capabilities and default seccomp, writable root", check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Bounding, defaultCaps) || s.Root.Readonly || s.Process.NoNewPrivileges {
				t.Errorf("caps %v readonly %v no_new_privs %v", s.Process.Capabilities.Bounding, s.Root.Readonly, s.Process.NoNewPrivileges)
			}
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
				t.Errorf("seccomp %+v, want containerd's default profile", s.Linux.Seccomp)
			}
		}},
		{name: "supplemental groups", sec: runtime.Security{SupplementalGroups: []int64{2000, 4000}}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Process.User.AdditionalGids, 2000) || !slices.Contains(s.Process.User.AdditionalGids, 4000) {
				t.Errorf("additional gids %v", s.Process.User.AdditionalGids)
			}
		}},
		{name: "add a capability", sec: runtime.Security{CapAdd: []string{"NET_ADMIN", "CAP_SYS_TIME"}}, check: func(t *testing.T, s *specs.Spec) {
			for _, set := range [][]string{s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective, s.Process.Capabilities.Permitted} {
				if !slices.Contains(set, "CAP_NET_ADMIN") || !slices.Contains(set, "CAP_SYS_TIME") || !slices.Contains(set, "CAP_CHOWN") {
					t.Errorf("caps %v", set)
				}
			}
		}},
		{name: "drop a capability", sec: runtime.Security{CapDrop: []string{"net_raw"}}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Bounding, without(defaultCaps, "CAP_NET_RAW")) {
				t.Errorf("caps %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "drop ALL add one", sec: runtime.Security{CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"}}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Bounding, []string{"CAP_NET_BIND_SERVICE"}) || !slices.Equal(s.Process.Capabilities.Effective, []string{"CAP_NET_BIND_SERVICE"}) {
				t.Errorf("caps %+v", s.Process.Capabilities)
			}
		}},
		{name: "add ALL", sec: runtime.Security{CapAdd: []string{"ALL"}}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
				t.Errorf("caps %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "drop wins over add", sec: runtime.Security{CapAdd: []string{"SYS_ADMIN"}, CapDrop: []string{"SYS_ADMIN"}}, check: func(t *testing.T, s *specs.Spec) {
			if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
				t.Errorf("caps %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "privileged", sec: runtime.Security{Privileged: true, NoNewPrivileges: true}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) > 0 || len(s.Linux.ReadonlyPaths) > 0 || s.Process.NoNewPrivileges {
				t.Errorf("seccomp %v masked %v readonly %v no_new_privs %v", s.Linux.Seccomp, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Process.NoNewPrivileges)
			}
			if len(s.Linux.Resources.Devices) == 0 || !s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1].Allow {
				t.Errorf("devices %+v, want all allowed", s.Linux.Resources.Devices)
			}
		}},
		{name: "read-only root filesystem", sec: runtime.Security{ReadOnlyRootFilesystem: true}, check: func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Error("root is writable")
			}
		}},
		{name: "no privilege escalation", sec: runtime.Security{NoNewPrivileges: true}, check: func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges {
				t.Error("no_new_privs not set")
			}
		}},
		{name: "seccomp unconfined", sec: runtime.Security{Seccomp: "Unconfined"}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Errorf("seccomp %+v", s.Linux.Seccomp)
			}
		}},
		{name: "seccomp localhost", sec: runtime.Security{Seccomp: "Localhost", SeccompLocalhostProfile: "deny-mkdir.json"}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
				t.Errorf("seccomp %+v", s.Linux.Seccomp)
			}
		}},
		{name: "default seccomp follows added capabilities", sec: runtime.Security{CapAdd: []string{"SYS_ADMIN"}}, check: func(t *testing.T, s *specs.Spec) {
			allowsMount := false
			for _, sc := range s.Linux.Seccomp.Syscalls {
				if sc.Action == specs.ActAllow && slices.Contains(sc.Names, "mount") {
					allowsMount = true
				}
			}
			if !allowsMount {
				t.Error("the default profile does not allow mount for CAP_SYS_ADMIN: it was computed before the capabilities")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultSpec(t)
			opts, err := tc.sec.SpecOpts(seccompDir)
			if err != nil {
				t.Fatal(err)
			}
			if err := runtime.ApplySpecOpts(s, opts); err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
	for _, bad := range []runtime.Security{{Seccomp: "Localhost"}, {Seccomp: "Localhost", SeccompLocalhostProfile: "/"}, {Seccomp: "Strict"}} {
		if _, err := bad.SpecOpts(seccompDir); !errors.Is(err, runtime.ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", bad, err)
		}
	}
}

func TestSecurityUserOpts(t *testing.T) {
	for _, tc := range []struct {
		name          string
		sec           runtime.Security
		uid, gid      uint32
		wantOpts      int
		runsWithoutFS bool
	}{
		{name: "image's user", wantOpts: 0, runsWithoutFS: true},
		{name: "uid and gid", sec: runtime.Security{RunAsUser: p[int64](1000), RunAsGroup: p[int64](3000)}, uid: 1000, gid: 3000, wantOpts: 1, runsWithoutFS: true},
		{name: "gid over the image's uid", sec: runtime.Security{RunAsGroup: p[int64](3000)}, gid: 3000, wantOpts: 1, runsWithoutFS: true},
		{name: "uid alone reads the image's passwd", sec: runtime.Security{RunAsUser: p[int64](1000)}, wantOpts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.sec.UserOpts()
			if len(opts) != tc.wantOpts {
				t.Fatalf("%d options, want %d", len(opts), tc.wantOpts)
			}
			if !tc.runsWithoutFS {
				return
			}
			s := defaultSpec(t)
			if err := runtime.ApplySpecOpts(s, opts); err != nil {
				t.Fatal(err)
			}
			if s.Process.User.UID != tc.uid || s.Process.User.GID != tc.gid {
				t.Errorf("user %d:%d, want %d:%d", s.Process.User.UID, s.Process.User.GID, tc.uid, tc.gid)
			}
		})
	}
}

var _ = hasNamespace
