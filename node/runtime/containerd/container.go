package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/wake-run/wake/node/image"
	"github.com/wake-run/wake/node/runtime"
)

// groupAnnotation makes the runc shim serve every container with the same
// value: one shim per pod (≈13 MiB) instead of one per container.
const groupAnnotation = "io.containerd.runc.v2.group"

// CreateContainer implements runtime.Runtime: container, snapshot and task
// (shim and `runc create`), so StartContainer only starts the process.
func (r *Runtime) CreateContainer(ctx context.Context, sb runtime.Sandbox, cfg runtime.ContainerConfig) (string, error) {
	if cfg.Name == "" {
		return "", fmt.Errorf("%w: a container needs a name", runtime.ErrInvalid)
	}
	for k := range cfg.Labels {
		if strings.HasPrefix(k, "wake.io/") {
			return "", fmt.Errorf("%w: container %s: label %s: the wake.io/ prefix is the runtime's", runtime.ErrInvalid, cfg.Name, k)
		}
	}
	if _, err := os.Stat(filepath.Join(r.sandboxDir(sb.ID), "sandbox.json")); err != nil || sb.ID == "" {
		return "", fmt.Errorf("container %s: %w", cfg.Name, notFound("sandbox", sb.ID))
	}
	id := ContainerID(sb.ID, cfg.Name, cfg.Attempt)
	defer r.lockContainer(id)()
	ctx = r.ctx(ctx)

	ref, err := image.Normalize(cfg.Image)
	if err != nil {
		return "", fmt.Errorf("container %s: %w: %v", cfg.Name, runtime.ErrInvalidImageName, err)
	}
	img, err := r.client.GetImage(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", fmt.Errorf("container %s: image %s is not present (EnsureImage first): %w", cfg.Name, ref, runtime.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("container %s: image %s: %w", cfg.Name, ref, err)
	}
	imgSpec, err := img.Spec(ctx)
	if err != nil {
		return "", fmt.Errorf("container %s: image %s config: %w", cfg.Name, ref, err)
	}
	argv := runtime.ProcessArgs(imgSpec.Config.Entrypoint, imgSpec.Config.Cmd, cfg.Command, cfg.Args)
	if len(argv) == 0 {
		return "", fmt.Errorf("%w: container %s: no command: the image %s has no entrypoint or cmd and the container sets none", runtime.ErrInvalid, cfg.Name, ref)
	}

	if err := runtime.CheckRunAsNonRoot(cfg.Security, imgSpec.Config.User, cfg.Pod, cfg.Name); err != nil {
		return "", err
	}
	specOpts, err := r.specOpts(img, sb, cfg, argv)
	if err != nil {
		return "", err
	}

	labels := map[string]string{
		runtime.LabelPodUID:    sb.PodUID,
		runtime.LabelSandbox:   sb.ID,
		runtime.LabelContainer: cfg.Name,
		runtime.LabelAttempt:   strconv.FormatUint(uint64(cfg.Attempt), 10),
	}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	ctr, err := r.client.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithSnapshotter(r.snapshotter),
		client.WithNewSnapshot(id, img),
		client.WithContainerLabels(labels),
		client.WithImageStopSignal(img, "SIGTERM"),
		client.WithNewSpec(specOpts...),
	)
	if errdefs.IsAlreadyExists(err) {
		return "", fmt.Errorf("container %s: %w", id, runtime.ErrAlreadyExists)
	}
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", id, err)
	}
	if err := os.MkdirAll(filepath.Dir(r.LogPath(id)), 0o711); err != nil {
		return "", err
	}
	if _, err := ctr.NewTask(ctx, logTo(r.LogPath(id), cfg.TTY)); err != nil {
		ctr.Delete(context.WithoutCancel(ctx), client.WithSnapshotCleanup)
		os.Remove(r.LogPath(id))
		return "", fmt.Errorf("create task %s: %w", id, err)
	}
	return id, nil
}

// specOpts builds the OCI spec over the client's defaults (namespaces,
// capabilities, masked paths, cgroup /<namespace>/<id>): the sandbox's
// namespaces, then the container's security settings over the image's user.
func (r *Runtime) specOpts(img client.Image, sb runtime.Sandbox, cfg runtime.ContainerConfig, argv []string) ([]oci.SpecOpts, error) {
	sandboxDir := r.sandboxDir(sb.ID)
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(argv...),
		withTTY(cfg.TTY),
		oci.WithEnv(cfg.Env),
		oci.WithAnnotations(map[string]string{groupAnnotation: sb.ID}),
	}
	if sb.HostNetwork {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		opts = append(opts,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNSPath}),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: filepath.Join(sandboxDir, "uts")}))
	}
	switch {
	case sb.HostPID:
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	case sb.SharePID:
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: filepath.Join(sandboxDir, "pid")}))
	}
	if sb.HostIPC {
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	} else if ipc := filepath.Join(sandboxDir, "ipc"); fileExists(ipc) { // sandboxes of older agents have none
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: ipc}))
	}
	opts = append(opts, cfg.Security.UserOpts()...)
	seccompRoot := r.seccompDir
	if seccompRoot == "" {
		seccompRoot = filepath.Join(r.stateDir, "seccomp")
	}
	sec, err := cfg.Security.SpecOpts(seccompRoot)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	mounts := []specs.Mount{
		bindMount(filepath.Join(sandboxDir, "hosts"), "/etc/hosts", false),
		bindMount(filepath.Join(sandboxDir, "hostname"), "/etc/hostname", false),
		bindMount(filepath.Join(sandboxDir, "resolv.conf"), "/etc/resolv.conf", false),
	}
	for _, m := range cfg.Mounts {
		mounts = append(mounts, bindMount(m.HostPath, m.ContainerPath, m.ReadOnly))
	}
	opts = append(opts, oci.WithMounts(mounts))
	res := cfg.Resources
	if res.MemoryLimitBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimitBytes)))
		if swapAccounting() {
			// No swap beyond the limit, as the kubelet does.
			opts = append(opts, oci.WithMemorySwap(res.MemoryLimitBytes))
		}
	}
	if res.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(res.CPUShares))
	}
	if res.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(res.CPUQuota, res.CPUPeriod))
	}
	return opts, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func bindMount(source, dest string, readOnly bool) specs.Mount {
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	return specs.Mount{Type: "bind", Source: source, Destination: dest, Options: []string{"rbind", "rprivate", mode}}
}

// swapAccounting reports whether cgroup v1 can limit memory plus swap.
func swapAccounting() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}
