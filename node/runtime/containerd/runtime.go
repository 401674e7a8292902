// Package containerd implements runtime.Runtime on containerd through its Go
// client, with runc containers, overlayfs snapshots and a CNI pod network.
// It is verified against Debian's containerd 1.6 (see DEPENDENCIES.md).
//
// Layout of the state directory (one per agent):
//
//	sandboxes/<id>/sandbox.json   what containerd does not know of a pod:
//	                              its netns path, IP, ports, hostname
//	sandboxes/<id>/{uts,ipc}      the pod's UTS and IPC namespaces (bind mounts;
//	                              none on the host network or host IPC)
//	sandboxes/<id>/pid{,.pid}     with shareProcessNamespace: the pod's PID
//	                              namespace (bind mount) and its pause
//	                              process's PID (see pause.go)
//	sandboxes/<id>/{hosts,hostname,resolv.conf}
//	netns/<id>                    the pod's network namespace (bind mount)
//	logs/<container id>.log       output of the container's process
//
// Containers carry the labels runtime.Label*; everything else about them is
// containerd's. Running containers belong to their shims, not to the agent:
// they outlive it, and a new Runtime over the same state adopts them.
package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/runtime"
)

// Network attaches a sandbox's network namespace to the pod network;
// *cni.Network is the implementation.
type Network interface {
	Setup(ctx context.Context, sandboxID, netnsPath, podName, podNamespace string, ports []cni.PortMapping) (string, error)
	Teardown(ctx context.Context, sandboxID, netnsPath string, ports []cni.PortMapping) error
}

// Config is one agent's runtime.
type Config struct {
	// Socket is containerd's gRPC socket (see node/containerd.Ensure).
	Socket string
	// Namespace is the containerd namespace of this agent's images and
	// containers; "" is "wake". Agents sharing a containerd need distinct
	// namespaces.
	Namespace string
	// StateDir holds the files described in the package comment.
	StateDir string
	// Network attaches pods; required.
	Network Network
	// Snapshotter is containerd's snapshotter; "" is "overlayfs".
	Snapshotter string
	// SeccompDir holds the node's seccomp profiles: a Localhost profile
	// names a file under it. "" is <StateDir>/seccomp.
	SeccompDir string
	// OnPull, when set, is told of every pull from a registry that EnsureImage
	// makes (not of images already present): the reference, how long it took,
	// and its error. It runs on the caller's goroutine and must not block.
	OnPull func(ref string, took time.Duration, err error)
}

// Runtime is runtime.Runtime on containerd. Close releases its connection;
// containers keep running.
type Runtime struct {
	client      *client.Client
	namespace   string
	stateDir    string
	network     Network
	snapshotter string
	seccompDir  string
	onPull      func(string, time.Duration, error)
	// sandboxLocks and containerLocks serialise the operations on one
	// sandbox or container, by ID (striped; a sandbox operation may take a
	// container lock, never the reverse).
	sandboxLocks, containerLocks [64]sync.Mutex
}

var _ runtime.Runtime = (*Runtime)(nil)

// New connects to containerd and prepares the state directory.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Socket == "" || cfg.StateDir == "" || cfg.Network == nil {
		return nil, fmt.Errorf("%w: containerd runtime needs Socket, StateDir and Network", runtime.ErrInvalid)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "wake"
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = "overlayfs"
	}
	for _, dir := range []string{"sandboxes", "netns", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, dir), 0o711); err != nil {
			return nil, fmt.Errorf("runtime state directory: %w", err)
		}
	}
	c, err := client.New(cfg.Socket, client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Socket, err)
	}
	r := &Runtime{client: c, namespace: cfg.Namespace, stateDir: cfg.StateDir, network: cfg.Network, snapshotter: cfg.Snapshotter,
		onPull: cfg.OnPull, seccompDir: cfg.SeccompDir}
	if _, err := c.Version(r.ctx(ctx)); err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w", cfg.Socket, err)
	}
	return r, nil
}

// Close closes the connection to containerd. Running containers, their
// shims and logs are not affected.
func (r *Runtime) Close() error { return r.client.Close() }

// Client is the containerd client, for tests and tools that need more than
// the runtime offers. Its calls need a context with the runtime's namespace
// (Namespace).
func (r *Runtime) Client() *client.Client { return r.client }

// Namespace is the containerd namespace of this runtime.
func (r *Runtime) Namespace() string { return r.namespace }

// LogPath implements runtime.Runtime.
func (r *Runtime) LogPath(id string) string {
	return filepath.Join(r.stateDir, "logs", id+".log")
}

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.namespace)
}

func (r *Runtime) lockSandbox(id string) func()   { return lockStripe(&r.sandboxLocks, id) }
func (r *Runtime) lockContainer(id string) func() { return lockStripe(&r.containerLocks, id) }

func lockStripe(locks *[64]sync.Mutex, id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	mu := &locks[h.Sum32()%uint32(len(locks))]
	mu.Lock()
	return mu.Unlock
}

// SandboxID is the sandbox ID of a pod: stable for its UID, short enough
// to prefix container IDs.
func SandboxID(podUID string) string {
	sum := sha256.Sum256([]byte(podUID))
	return hex.EncodeToString(sum[:8])
}

// maxIDLength is containerd's limit on identifiers.
const maxIDLength = 76

// ContainerID is the ID of one attempt of a container in a sandbox:
// <sandbox>-<name>-<attempt>, with the name hashed when it would make the
// ID longer than containerd allows.
func ContainerID(sandboxID, name string, attempt uint32) string {
	suffix := "-" + strconv.FormatUint(uint64(attempt), 10)
	id := sandboxID + "-" + name + suffix
	if len(id) > maxIDLength {
		sum := sha256.Sum256([]byte(name))
		id = sandboxID + "-" + hex.EncodeToString(sum[:8]) + suffix
	}
	return id
}

// notFound wraps runtime.ErrNotFound for a container or sandbox.
func notFound(kind, id string) error {
	return fmt.Errorf("%s %s: %w", kind, id, runtime.ErrNotFound)
}

// ignoreNotExist drops an error that only says a file was already gone.
func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
