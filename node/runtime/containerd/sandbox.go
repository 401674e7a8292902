package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/runtime"
	"golang.org/x/sys/unix"
)

// maxHostname is the kernel's limit on a hostname.
const maxHostname = 64

// CreateSandbox implements runtime.Runtime. The sandbox's JSON file is
// written last: a sandbox without one is a half-created sandbox, which
// CreateSandbox and RemoveSandbox clean up.
func (r *Runtime) CreateSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	if cfg.PodUID == "" || cfg.Name == "" {
		return runtime.Sandbox{}, fmt.Errorf("%w: a sandbox needs the pod's UID and name", runtime.ErrInvalid)
	}
	id := SandboxID(cfg.PodUID)
	defer r.lockSandbox(id)()
	if sb, err := r.readSandbox(id); err == nil {
		return sb, nil
	} else if !errors.Is(err, runtime.ErrNotFound) {
		return runtime.Sandbox{}, err
	}
	if err := r.removeSandboxFiles(ctx, id, nil); err != nil {
		return runtime.Sandbox{}, fmt.Errorf("clean up an earlier attempt at sandbox %s: %w", id, err)
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = cfg.Name
	}
	hostname = hostname[:min(len(hostname), maxHostname)]
	sb := runtime.Sandbox{
		ID: id, PodUID: cfg.PodUID, Name: cfg.Name, Namespace: cfg.Namespace, Hostname: hostname,
		NetNSPath: r.netnsPath(id), Ports: cfg.Ports, CreatedAt: time.Now().UTC(),
		HostNetwork: cfg.HostNetwork, HostPID: cfg.HostPID, HostIPC: cfg.HostIPC, SharePID: cfg.SharePID && !cfg.HostPID,
	}
	if cfg.HostNetwork {
		// The node's network and name: nothing to attach, no port to map.
		sb.NetNSPath, sb.IP, sb.Ports = "", cfg.HostIP, nil
		if h, err := os.Hostname(); err == nil {
			sb.Hostname = h
		}
	}
	if err := r.setUpSandbox(ctx, &sb, cfg.DNS); err != nil {
		if cleanErr := r.removeSandboxFiles(context.WithoutCancel(ctx), id, cniPorts(cfg.Ports)); cleanErr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cleanErr)
		}
		return runtime.Sandbox{}, fmt.Errorf("create sandbox for pod %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	return sb, nil
}

func (r *Runtime) setUpSandbox(ctx context.Context, sb *runtime.Sandbox, dns *runtime.DNSConfig) error {
	dir := r.sandboxDir(sb.ID)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	if !sb.HostIPC {
		if err := createNamespace(filepath.Join(dir, "ipc"), unix.CLONE_NEWIPC, nil); err != nil {
			return fmt.Errorf("IPC namespace: %w", err)
		}
	}
	if sb.SharePID {
		if err := startPause(filepath.Join(dir, "pid")); err != nil {
			return fmt.Errorf("PID namespace: %w", err)
		}
	}
	files := map[string]string{"resolv.conf": resolvConf(dns)}
	if sb.HostNetwork {
		hosts, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return fmt.Errorf("host network: %w", err)
		}
		files["hosts"], files["hostname"] = string(hosts), sb.Hostname+"\n"
	} else {
		if err := createNamespace(sb.NetNSPath, unix.CLONE_NEWNET, loopbackUp); err != nil {
			return fmt.Errorf("network namespace: %w", err)
		}
		if err := createNamespace(filepath.Join(dir, "uts"), unix.CLONE_NEWUTS, setHostname(sb.Hostname)); err != nil {
			return fmt.Errorf("UTS namespace: %w", err)
		}
		ip, err := r.network.Setup(ctx, sb.ID, sb.NetNSPath, sb.Name, sb.Namespace, cniPorts(sb.Ports))
		if err != nil {
			return err
		}
		sb.IP = ip
		files["hosts"], files["hostname"] = hostsFile(sb.IP, sb.Hostname), sb.Hostname+"\n"
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(dir, "sandbox.json"), sb)
}

// RemoveSandbox implements runtime.Runtime. Containers still in the sandbox
// are removed first (killed if they run).
func (r *Runtime) RemoveSandbox(ctx context.Context, sandboxID string) error {
	defer r.lockSandbox(sandboxID)()
	containers, err := r.client.Containers(r.ctx(ctx), fmt.Sprintf("labels.%q==%s", runtime.LabelSandbox, sandboxID))
	if err != nil {
		return fmt.Errorf("remove sandbox %s: list its containers: %w", sandboxID, err)
	}
	for _, c := range containers {
		if err := r.RemoveContainer(ctx, c.ID()); err != nil {
			return fmt.Errorf("remove sandbox %s: %w", sandboxID, err)
		}
	}
	var ports []cni.PortMapping
	if sb, err := r.readSandbox(sandboxID); err == nil {
		ports = cniPorts(sb.Ports)
	}
	if err := r.removeSandboxFiles(ctx, sandboxID, ports); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", sandboxID, err)
	}
	return nil
}

// removeSandboxFiles undoes whatever part of a sandbox exists: the network
// attachment, the namespaces and the directory, in that order (the CNI DEL
// wants the netns while it exists).
func (r *Runtime) removeSandboxFiles(ctx context.Context, id string, ports []cni.PortMapping) error {
	dir := r.sandboxDir(id)
	_, dirErr := os.Stat(dir)
	_, nsErr := os.Stat(r.netnsPath(id))
	if errors.Is(dirErr, os.ErrNotExist) && errors.Is(nsErr, os.ErrNotExist) {
		return nil
	}
	// A host-network sandbox has no netns and nothing attached to release.
	if nsErr == nil {
		if err := r.network.Teardown(ctx, id, r.netnsPath(id), ports); err != nil {
			return err
		}
	}
	if err := removeNamespace(r.netnsPath(id)); err != nil {
		return err
	}
	if err := stopPause(filepath.Join(dir, "pid")); err != nil {
		return err
	}
	for _, ns := range []string{"uts", "ipc"} {
		if err := removeNamespace(filepath.Join(dir, ns)); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}

// ListSandboxes implements runtime.Runtime.
func (r *Runtime) ListSandboxes(ctx context.Context) ([]runtime.Sandbox, error) {
	entries, err := os.ReadDir(filepath.Join(r.stateDir, "sandboxes"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []runtime.Sandbox
	for _, e := range entries {
		sb, err := r.readSandbox(e.Name())
		if errors.Is(err, runtime.ErrNotFound) {
			continue // being created or removed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sb)
	}
	slices.SortFunc(out, func(a, b runtime.Sandbox) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (r *Runtime) readSandbox(id string) (runtime.Sandbox, error) {
	var sb runtime.Sandbox
	b, err := os.ReadFile(filepath.Join(r.sandboxDir(id), "sandbox.json"))
	if errors.Is(err, os.ErrNotExist) {
		return sb, notFound("sandbox", id)
	}
	if err != nil {
		return sb, err
	}
	if err := json.Unmarshal(b, &sb); err != nil {
		return sb, fmt.Errorf("sandbox %s: %w", id, err)
	}
	return sb, nil
}

func (r *Runtime) sandboxDir(id string) string { return filepath.Join(r.stateDir, "sandboxes", id) }
func (r *Runtime) netnsPath(id string) string  { return filepath.Join(r.stateDir, "netns", id) }

// writeJSON writes v to path atomically: a crash leaves the old file or the
// new one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func hostsFile(ip, hostname string) string {
	return fmt.Sprintf(`# Kubernetes-managed hosts file (wake).
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
fe00::0	ip6-mcastprefix
fe00::1	ip6-allnodes
fe00::2	ip6-allrouters
%s	%s
`, ip, hostname)
}

// resolvConf is the pod's resolv.conf: dns, or the node's when dns is nil.
func resolvConf(dns *runtime.DNSConfig) string {
	if dns == nil {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return ""
		}
		return string(b)
	}
	var b strings.Builder
	for _, ns := range dns.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return b.String()
}

func cniPorts(ports []runtime.PortMapping) []cni.PortMapping {
	if len(ports) == 0 {
		return nil
	}
	out := make([]cni.PortMapping, len(ports))
	for i, p := range ports {
		out[i] = cni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol, HostIP: p.HostIP}
	}
	return out
}
