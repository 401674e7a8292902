// Package runtime is the seam between the node agent and the container
// runtime: the Runtime interface the agent drives, the types it exchanges,
// the errors callers branch on, and the pure translations from a pod spec
// (command and args over an image's entrypoint, resource requests and limits,
// the securityContext: security.go) that every implementation shares. The
// real implementation is node/runtime/containerd.
//
// A pod is a sandbox (one network namespace with its IP, one UTS namespace
// with the pod's hostname, one IPC namespace, with shareProcessNamespace one
// PID namespace, the pod's /etc/hosts and /etc/resolv.conf; or the node's
// namespaces for hostNetwork, hostPID, hostIPC) plus containers that join it. The runtime keeps no state of its own in memory
// that an agent restart would lose: what containerd does not know is in
// files under the runtime's state directory.
package runtime

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Runtime runs pods' containers on one node. All methods are safe for
// concurrent use; calls for different pods do not wait for each other.
// Every error a caller must branch on wraps one of the sentinel errors of
// this package (test with errors.Is) or is a *PullError.
type Runtime interface {
	// EnsureImage makes the image ref available, unpacked, under its
	// normalised name (busybox -> docker.io/library/busybox:latest) and
	// returns it. Never returns ErrImageNeverPull when the image is absent;
	// IfNotPresent (and "") pull only when it is absent; Always pulls every
	// time, which fetches only what changed. A failed pull is a *PullError
	// (errors.Is ErrImagePull) carrying the registry's message; an
	// unparsable ref wraps ErrInvalidImageName. A registry that asks for
	// credentials gets the first of creds whose Host is its host.
	EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy, creds ...Credential) (Image, error)
	// ImportImages stores the images of an image archive (OCI image layout or
	// docker-archive tar, optionally gzip or zstd compressed) under the
	// normalised names the archive gives them, unpacked and ready to run, and
	// returns them sorted by Ref. An image the archive names only by a bare
	// tag, or not at all, is skipped. An existing image of the same name is
	// replaced.
	ImportImages(ctx context.Context, r io.Reader) ([]Image, error)
	// ListImages returns the named images, sorted by Ref.
	ListImages(ctx context.Context) ([]Image, error)

	// CreateSandbox creates the pod's namespaces and network: a network
	// namespace attached through CNI (its IP in Sandbox.IP, host ports
	// mapped), a UTS namespace with the pod's hostname, and the files every
	// container mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf). The
	// sandbox ID is derived from the pod UID. When a sandbox for the pod
	// exists already, CreateSandbox returns it unchanged; when it fails
	// halfway it undoes what it did.
	CreateSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error)
	// RemoveSandbox releases the sandbox's network (CNI DEL: the IP goes back
	// to the pool, host ports are unmapped) and removes its namespaces and
	// files. Its containers must have been removed first. It is idempotent:
	// removing an unknown or half-removed sandbox succeeds.
	RemoveSandbox(ctx context.Context, sandboxID string) error
	// ListSandboxes returns the sandboxes that exist, from the state
	// directory, so it answers the same after an agent restart. Sorted by ID.
	ListSandboxes(ctx context.Context) ([]Sandbox, error)

	// CreateContainer creates a container in sandbox from an image that
	// EnsureImage or ImportImages made present (else ErrNotFound), ready to
	// start: it joins the sandbox's network and UTS namespaces and its
	// cgroup limits are set. The ID is derived from the sandbox, cfg.Name
	// and cfg.Attempt; creating the same attempt twice gives
	// ErrAlreadyExists. The process's output goes to LogPath(id).
	CreateContainer(ctx context.Context, sandbox Sandbox, cfg ContainerConfig) (string, error)
	// StartContainer starts a created container and returns the PID of its
	// process on the host. Starting a running container returns its PID;
	// starting an exited one fails (create a new attempt instead).
	StartContainer(ctx context.Context, id string) (pid uint32, err error)
	// WaitContainer returns a channel that receives the container's exit
	// status once, when its process has exited (at once if it has already),
	// and is then closed. It is closed without a value when ctx ends or the
	// container is removed. It may be called before or after StartContainer,
	// by several callers, and again after an agent restart. When the status
	// is delivered the exit is final: the container's output is all in
	// LogPath, its processes and cgroup are gone, and ListContainers reports
	// the same status.
	WaitContainer(ctx context.Context, id string) (<-chan ExitStatus, error)
	// StopContainer sends SIGTERM, waits up to grace for the process to
	// exit, then sends SIGKILL and waits for the exit. It returns once the
	// process has exited; stopping a container that is not running is a
	// no-op. The container and its exit status stay until RemoveContainer.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer kills the container's process if it still runs, then
	// deletes the task, the container, its root filesystem snapshot and its
	// log file. It is idempotent: removing an unknown container succeeds.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns every container of this runtime with its
	// state, PID and exit status, sorted by ID: after an agent restart it is
	// how the agent adopts what still runs.
	ListContainers(ctx context.Context) ([]ContainerStatus, error)
	// Exec runs a command in a running container, in its namespaces and
	// cgroup, streams its input and output, and returns its exit code once
	// it has exited and its output is copied. When ctx ends the process is
	// killed. An error means the command could not be run (no such
	// container, not running, no such executable); a command that ran and
	// failed is a non-zero exit code with a nil error.
	Exec(ctx context.Context, id string, cfg ExecConfig) (exitCode int, err error)
	// LogPath is the file the container's standard output and error are
	// appended to, raw and interleaved, by the runtime's own process (the
	// log survives agent restarts). It exists from CreateContainer until
	// RemoveContainer.
	LogPath(id string) string
}

// Labels the runtime puts on every container; callers' labels may not use
// the wake.io/ prefix (implementations keep more of their own there).
const (
	LabelPodUID    = "wake.io/pod-uid"
	LabelSandbox   = "wake.io/sandbox"
	LabelContainer = "wake.io/container"
	LabelAttempt   = "wake.io/attempt"
)

// Image is an image available to run.
type Image struct {
	// Ref is the normalised reference (docker.io/library/busybox:latest).
	Ref string
	// Digest is the digest of the manifest or index Ref points at.
	Digest string
	// ID is the digest of the image's configuration.
	ID string
	// Size is the size of the image's content as stored (compressed layers).
	Size int64
}

// PortMapping maps a port of the node to a port of the pod (hostPort).
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	// Protocol is "tcp" (also for "") or "udp".
	Protocol string
	// HostIP restricts the mapping to one address of the node; "" is all.
	HostIP string
}

// DNSConfig is the pod's /etc/resolv.conf. A nil *DNSConfig copies the
// node's.
type DNSConfig struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// SandboxConfig describes the pod a sandbox is for.
type SandboxConfig struct {
	PodUID    string
	Name      string
	Namespace string
	// Hostname is the pod's hostname; "" is Name.
	Hostname string
	Ports    []PortMapping
	DNS      *DNSConfig
	// HostNetwork runs the pod in the node's network and UTS namespaces:
	// no CNI, the pod's IP is HostIP, /etc/hosts and /etc/hostname are the
	// node's, and ports need no mapping.
	HostNetwork bool
	HostIP      string
	// HostPID and HostIPC put the containers in the node's PID and IPC
	// namespaces. Without HostIPC the pod's containers share one IPC
	// namespace of the sandbox.
	HostPID, HostIPC bool
	// SharePID (shareProcessNamespace) puts the pod's containers in one
	// PID namespace, the sandbox's, whose PID 1 is a pause process.
	SharePID bool
}

// Sandbox is a pod's namespaces and network.
type Sandbox struct {
	ID        string
	PodUID    string
	Name      string
	Namespace string
	Hostname  string
	// NetNSPath is the bind-mounted network namespace the containers join.
	NetNSPath string
	// IP is the pod's IPv4 address on the node's pod network.
	IP        string
	Ports     []PortMapping
	CreatedAt time.Time
	// HostNetwork, HostPID and HostIPC are the SandboxConfig's; NetNSPath
	// is "" on the host network.
	HostNetwork bool `json:",omitempty"`
	HostPID     bool `json:",omitempty"`
	HostIPC     bool `json:",omitempty"`
	SharePID    bool `json:",omitempty"`
}

// Mount makes a host path visible in a container (emptyDir, hostPath,
// ConfigMap and Secret files: the agent prepares the host side).
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// Resources are a container's cgroup settings; zero fields are unlimited.
// ResourcesFor derives them from a container's requests and limits.
type Resources struct {
	MemoryLimitBytes int64
	CPUShares        uint64
	CPUQuota         int64
	CPUPeriod        uint64
}

// ContainerConfig describes one attempt of one container of a pod.
type ContainerConfig struct {
	// Name is the container's name in the pod spec.
	Name string
	// Attempt counts the restarts of the container, from 0.
	Attempt uint32
	// Image is a reference as in the pod spec; it is normalised.
	Image string
	// Command and Args follow Kubernetes: Command replaces the image's
	// entrypoint, Args its cmd (see ProcessArgs).
	Command []string
	Args    []string
	// Env is KEY=value pairs, in order; they override the image's.
	Env        []string
	WorkingDir string
	Mounts     []Mount
	Resources  Resources
	// Labels are added to the container's; they may not start with wake.io/.
	Labels map[string]string
	// Security is the container's effective securityContext (SecurityFor).
	Security Security
	// Pod names the pod in errors as the kubelet does: name_namespace(uid).
	Pod string
	// TTY gives the process a terminal (the pod spec's tty): its output, one
	// stream, goes to the log; nothing ever reads end of file from it.
	TTY bool
}

// ContainerState is where a container is in its life.
type ContainerState string

const (
	// ContainerCreated: created, not started yet.
	ContainerCreated ContainerState = "created"
	// ContainerRunning: its process runs.
	ContainerRunning ContainerState = "running"
	// ContainerExited: its process has exited; ContainerStatus.Exit is set.
	ContainerExited ContainerState = "exited"
	// ContainerUnknown: the runtime cannot tell (its shim is gone). The
	// container can only be removed.
	ContainerUnknown ContainerState = "unknown"
)

// Exit reasons, as Kubernetes reports them in a terminated state.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
)

// ExitStatus is how a container's process ended.
type ExitStatus struct {
	Code int
	// OOMKilled is true when the kernel's OOM killer killed a process of the
	// container's cgroup, whatever the exit code.
	OOMKilled bool
	// Reason is ReasonOOMKilled when OOMKilled, else ReasonCompleted for
	// code 0 and ReasonError otherwise.
	Reason     string
	StartedAt  time.Time
	FinishedAt time.Time
}

// ContainerStatus is what ListContainers reports of one container.
type ContainerStatus struct {
	ID        string
	SandboxID string
	PodUID    string
	// Name and Attempt are those of the ContainerConfig.
	Name    string
	Attempt uint32
	Image   string
	Labels  map[string]string
	State   ContainerState
	// Pid is the process's PID on the host while it runs, else 0.
	Pid       uint32
	CreatedAt time.Time
	StartedAt time.Time
	// Exit is set when State is ContainerExited.
	Exit *ExitStatus
}

// ExecConfig is a command to run in a running container.
type ExecConfig struct {
	Cmd []string
	// Stdin, when not nil, is copied to the process; the process sees end
	// of file when Stdin returns io.EOF.
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr is ignored when TTY is set (a terminal has one output).
	Stderr io.Writer
	TTY    bool
}

// Credential is what a registry host is signed in to with (from a pod's
// imagePullSecrets).
type Credential struct {
	Host     string // host[:port], as the registry is addressed: "127.0.0.1:5000", "registry-1.docker.io"
	Username string
	Password string
}
