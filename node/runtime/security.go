package runtime

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

// Seccomp profile kinds, as securityContext.seccompProfile.type names them.
const (
	SeccompRuntimeDefault = string(corev1.SeccompProfileTypeRuntimeDefault)
	SeccompUnconfined     = string(corev1.SeccompProfileTypeUnconfined)
	SeccompLocalhost      = string(corev1.SeccompProfileTypeLocalhost)
)

// Security is a container's effective security settings: the pod's
// securityContext overridden field by field by the container's
// (SecurityFor). The zero value runs as the image's user with the
// runtime's default capabilities and seccomp profile.
type Security struct {
	RunAsUser, RunAsGroup *int64
	// RunAsNonRoot refuses to start a container that would run as uid 0
	// (CheckRunAsNonRoot).
	RunAsNonRoot bool
	// SupplementalGroups are added to the process's groups: the pod's
	// fsGroup first, then its supplementalGroups.
	SupplementalGroups []int64
	Privileged         bool
	// CapAdd and CapDrop name capabilities as Kubernetes does (NET_ADMIN,
	// or ALL); the CAP_ prefix is optional.
	CapAdd, CapDrop        []string
	ReadOnlyRootFilesystem bool
	// NoNewPrivileges is allowPrivilegeEscalation: false.
	NoNewPrivileges bool
	// Seccomp is SeccompRuntimeDefault (also for ""), SeccompUnconfined or
	// SeccompLocalhost with SeccompLocalhostProfile, a path relative to the
	// node's seccomp profile directory.
	Seccomp                 string
	SeccompLocalhostProfile string
}

// SecurityFor merges the pod's and the container's securityContext as the
// kubelet does: each field the container sets wins over the pod's. wake's
// default seccomp profile is the runtime's (RuntimeDefault), where the
// kubelet's is Unconfined unless started with --seccomp-default. It is pure.
func SecurityFor(pod *corev1.Pod, c *corev1.Container) Security {
	var sec Security
	if psc := pod.Spec.SecurityContext; psc != nil {
		sec.RunAsUser, sec.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
		sec.RunAsNonRoot = psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
		if psc.FSGroup != nil {
			sec.SupplementalGroups = append(sec.SupplementalGroups, *psc.FSGroup)
		}
		for _, g := range psc.SupplementalGroups {
			if !slices.Contains(sec.SupplementalGroups, g) {
				sec.SupplementalGroups = append(sec.SupplementalGroups, g)
			}
		}
		setSeccomp(&sec, psc.SeccompProfile)
	}
	csc := c.SecurityContext
	if csc == nil {
		return sec
	}
	if csc.RunAsUser != nil {
		sec.RunAsUser = csc.RunAsUser
	}
	if csc.RunAsGroup != nil {
		sec.RunAsGroup = csc.RunAsGroup
	}
	if csc.RunAsNonRoot != nil {
		sec.RunAsNonRoot = *csc.RunAsNonRoot
	}
	sec.Privileged = csc.Privileged != nil && *csc.Privileged
	if caps := csc.Capabilities; caps != nil {
		for _, c := range caps.Add {
			sec.CapAdd = append(sec.CapAdd, string(c))
		}
		for _, c := range caps.Drop {
			sec.CapDrop = append(sec.CapDrop, string(c))
		}
	}
	sec.ReadOnlyRootFilesystem = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	sec.NoNewPrivileges = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	setSeccomp(&sec, csc.SeccompProfile)
	return sec
}

func setSeccomp(sec *Security, p *corev1.SeccompProfile) {
	if p == nil {
		return
	}
	sec.Seccomp = string(p.Type)
	sec.SeccompLocalhostProfile = ""
	if p.LocalhostProfile != nil {
		sec.SeccompLocalhostProfile = *p.LocalhostProfile
	}
}

// CheckRunAsNonRoot refuses a container that must not run as root and
// would, in the kubelet's words (the message of CreateContainerConfigError).
// imageUser is the image's configured user ("" is root; "name[:group]" or
// "uid[:gid]"); pod is "name_namespace(uid)" as the kubelet prints it.
func CheckRunAsNonRoot(sec Security, imageUser, pod, container string) error {
	if !sec.RunAsNonRoot {
		return nil
	}
	if sec.RunAsUser != nil {
		if *sec.RunAsUser == 0 {
			return ConfigErrorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod, container)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		user = "0"
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return ConfigErrorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, pod, container)
	case uid == 0:
		return ConfigErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod, container)
	}
	return nil
}

// UserOpts set the process's user and group from RunAsUser and RunAsGroup,
// over the image's user (oci.WithImageConfig must come first). A uid
// without a gid takes its group from the image's /etc/passwd (0 when the
// uid is not listed), which needs the container's root filesystem: these
// options need a client and a snapshot, unlike SpecOpts.
func (s Security) UserOpts() []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case s.RunAsUser != nil && s.RunAsGroup != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*s.RunAsUser), uint32(*s.RunAsGroup)))
	case s.RunAsUser != nil:
		opts = append(opts, oci.WithUserID(uint32(*s.RunAsUser)))
	case s.RunAsGroup != nil:
		gid := uint32(*s.RunAsGroup)
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, sp *specs.Spec) error {
			sp.Process.User.GID = gid
			return nil
		})
	}
	return opts
}

// SpecOpts apply the rest of the settings to a spec built on containerd's
// default (its default capability set, masked and read-only paths), after
// the user is set: supplemental groups, privileged, capabilities, the
// read-only root filesystem, no_new_privs, and last the seccomp profile
// (the default profile depends on the capabilities). Localhost profiles
// are read from seccompRoot. They need no client: apply them with
// ApplySpecOpts.
func (s Security) SpecOpts(seccompRoot string) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	if len(s.SupplementalGroups) > 0 {
		groups := s.SupplementalGroups
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, sp *specs.Spec) error {
			for _, g := range groups {
				if !slices.Contains(sp.Process.User.AdditionalGids, uint32(g)) {
					sp.Process.User.AdditionalGids = append(sp.Process.User.AdditionalGids, uint32(g))
				}
			}
			return nil
		})
	}
	if s.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	// As containerd's CRI: drop ALL clears the set, add ALL fills it, then
	// the named capabilities are added and dropped (a drop wins).
	var add, drop []string
	addAll, dropAll := false, false
	for _, c := range s.CapAdd {
		if strings.EqualFold(c, "ALL") {
			addAll = true
		} else {
			add = append(add, capName(c))
		}
	}
	for _, c := range s.CapDrop {
		if strings.EqualFold(c, "ALL") {
			dropAll = true
		} else {
			drop = append(drop, capName(c))
		}
	}
	if dropAll {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	if addAll {
		opts = append(opts, oci.WithAllKnownCapabilities)
	}
	if len(add) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	if len(drop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	if s.ReadOnlyRootFilesystem {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	// containerd's default sets no_new_privs; Kubernetes' default
	// (allowPrivilegeEscalation unset) lets setuid programs work.
	if s.NoNewPrivileges && !s.Privileged {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		opts = append(opts, oci.WithNewPrivileges)
	}
	switch s.Seccomp {
	case "", SeccompRuntimeDefault:
		if !s.Privileged {
			opts = append(opts, seccomp.WithDefaultProfile())
		}
	case SeccompUnconfined:
		opts = append(opts, oci.WithSeccompUnconfined)
	case SeccompLocalhost:
		p := filepath.Clean("/" + s.SeccompLocalhostProfile)
		if s.SeccompLocalhostProfile == "" || p == "/" {
			return nil, ConfigErrorf("seccompProfile type Localhost needs a localhostProfile, a file under the node's %s", seccompRoot)
		}
		opts = append(opts, seccomp.WithProfile(filepath.Join(seccompRoot, p)))
	default:
		return nil, ConfigErrorf("seccompProfile type %q: allowed are RuntimeDefault, Unconfined and Localhost", s.Seccomp)
	}
	return opts, nil
}

// ApplySpecOpts applies options that need no client to spec.
func ApplySpecOpts(spec *specs.Spec, opts []oci.SpecOpts) error {
	for _, o := range opts {
		if err := o(context.Background(), nil, &containers.Container{}, spec); err != nil {
			return err
		}
	}
	return nil
}

// capName is the kernel's name of a capability: CAP_ and upper case.
func capName(c string) string {
	c = strings.ToUpper(c)
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}
