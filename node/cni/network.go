// Package cni attaches pods to the node's pod network through CNI plugins:
// a Linux bridge per agent with host-local IPAM over the agent's pod CIDR,
// and portmap for host ports. It uses the plugins of Debian's
// containernetworking-plugins (version 1.1.1, spoken to in CNI 1.0.0).
//
// Every agent on a machine has its own bridge, subnet, cache and IPAM
// directories, so several agents can share one machine.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// ErrPluginsMissing means a CNI plugin binary is not in the plugin
// directories.
var ErrPluginsMissing = errors.New("CNI plugins are missing: apt-get install containernetworking-plugins")

// DefaultPluginDirs are where Debian and upstream install the plugins.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config is one agent's pod network.
type Config struct {
	// Name is the CNI network name, which keys libcni's cache; "" is
	// "wake-" + BridgeName.
	Name string
	// BridgeName is the Linux bridge the pods attach to (at most 15
	// bytes); "" is "wake0".
	BridgeName string
	// Subnet is the pod CIDR addresses are allocated from (10.88.0.0/24).
	// The bridge takes its first address and is the pods' gateway.
	Subnet string
	// CacheDir is libcni's cache of attachments (the config, arguments and
	// result of each ADD, read back on DEL).
	CacheDir string
	// DataDir is host-local IPAM's directory of reserved addresses.
	DataDir string
	// PluginDirs are searched for the plugins; nil is DefaultPluginDirs.
	PluginDirs []string
	// IPMasq masquerades traffic from pods to outside the subnet (the
	// bridge plugin's ipMasq). Off, pods reach only the node and each other.
	IPMasq bool
}

// PortMapping maps a port of the node to a port of the pod, as portmap
// takes it.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Network attaches network namespaces to one agent's pod network. It is
// safe for concurrent use by different sandboxes.
type Network struct {
	cfg  Config
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

// New checks cfg and that the plugins are installed. It changes nothing on
// the host: the bridge appears with the first Setup.
func New(cfg Config) (*Network, error) {
	if cfg.BridgeName == "" {
		cfg.BridgeName = "wake0"
	}
	if len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("cni: bridge name %q is longer than 15 bytes", cfg.BridgeName)
	}
	if cfg.Name == "" {
		cfg.Name = "wake-" + cfg.BridgeName
	}
	if _, ipnet, err := net.ParseCIDR(cfg.Subnet); err != nil || ipnet.IP.To4() == nil {
		return nil, fmt.Errorf("cni: subnet %q is not an IPv4 CIDR such as 10.88.0.0/24", cfg.Subnet)
	}
	if cfg.CacheDir == "" || cfg.DataDir == "" {
		return nil, errors.New("cni: CacheDir and DataDir are required")
	}
	if cfg.PluginDirs == nil {
		cfg.PluginDirs = DefaultPluginDirs
	}
	for _, plugin := range []string{"bridge", "host-local", "portmap"} {
		if !pluginExists(cfg.PluginDirs, plugin) {
			return nil, fmt.Errorf("%w (no %s in %s)", ErrPluginsMissing, plugin, strings.Join(cfg.PluginDirs, ", "))
		}
	}
	list, err := libcni.NetworkConfFromBytes(confList(cfg))
	if err != nil {
		return nil, fmt.Errorf("cni: network configuration: %w", err)
	}
	return &Network{cfg: cfg, cni: libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.CacheDir, nil), list: list}, nil
}

// Gateway is the bridge's address, the pods' default gateway.
func (n *Network) Gateway() string {
	_, ipnet, _ := net.ParseCIDR(n.cfg.Subnet)
	ip := ipnet.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1).String()
}

// BridgeName is the Linux bridge of this network.
func (n *Network) BridgeName() string { return n.cfg.BridgeName }

// Setup attaches the network namespace at netnsPath as eth0 on the bridge,
// gives it an address from the subnet with a default route through the
// bridge, maps ports from the node, and returns the address. sandboxID
// keys the attachment: Teardown with the same ID undoes it. When Setup
// fails it undoes what it did.
func (n *Network) Setup(ctx context.Context, sandboxID, netnsPath, podName, podNamespace string, ports []PortMapping) (string, error) {
	rt := n.runtimeConf(sandboxID, netnsPath, ports)
	rt.Args = append(rt.Args, [2]string{"K8S_POD_NAMESPACE", podNamespace}, [2]string{"K8S_POD_NAME", podName})
	res, err := n.cni.AddNetworkList(ctx, n.list, rt)
	if err != nil {
		n.Teardown(context.WithoutCancel(ctx), sandboxID, netnsPath, ports)
		return "", fmt.Errorf("cni add %s: %w", sandboxID, err)
	}
	result, err := types100.NewResultFromResult(res)
	if err != nil {
		n.Teardown(context.WithoutCancel(ctx), sandboxID, netnsPath, ports)
		return "", fmt.Errorf("cni add %s: result: %w", sandboxID, err)
	}
	for _, ip := range result.IPs {
		if ip.Address.IP.To4() != nil {
			return ip.Address.IP.String(), nil
		}
	}
	n.Teardown(context.WithoutCancel(ctx), sandboxID, netnsPath, ports)
	return "", fmt.Errorf("cni add %s: the plugins returned no IPv4 address", sandboxID)
}

// Teardown undoes Setup: it releases the address, unmaps the ports and
// deletes the veth pair. ports may be nil: the ports of the cached
// attachment are used. It is idempotent, and works when the network
// namespace is gone (netnsPath missing or "").
func (n *Network) Teardown(ctx context.Context, sandboxID, netnsPath string, ports []PortMapping) error {
	if netnsPath != "" {
		if _, err := os.Stat(netnsPath); err != nil {
			netnsPath = ""
		}
	}
	rt := n.runtimeConf(sandboxID, netnsPath, ports)
	if len(ports) == 0 {
		if _, cached, err := n.cni.GetNetworkListCachedConfig(n.list, rt); err == nil && cached != nil {
			if pm, ok := cached.CapabilityArgs["portMappings"]; ok {
				rt.CapabilityArgs = map[string]any{"portMappings": pm}
			}
		}
	}
	if err := n.cni.DelNetworkList(ctx, n.list, rt); err != nil {
		return fmt.Errorf("cni del %s: %w", sandboxID, err)
	}
	return nil
}

// Destroy deletes the bridge and the IPAM reservations of this network,
// for tests and for taking a node out of service: pods still attached lose
// their network. It leaves the host-wide settings the plugins changed
// (net.ipv4.ip_forward, portmap's top-level CNI-HOSTPORT-* chains, which
// other networks share).
func (n *Network) Destroy(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "link", "delete", n.cfg.BridgeName, "type", "bridge").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("delete bridge %s: %v: %s", n.cfg.BridgeName, err, out)
	}
	if err := os.RemoveAll(filepath.Join(n.cfg.DataDir, n.cfg.Name)); err != nil {
		return fmt.Errorf("remove IPAM state: %w", err)
	}
	return nil
}

func (n *Network) runtimeConf(sandboxID, netnsPath string, ports []PortMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: sandboxID,
		NetNS:       netnsPath,
		IfName:      "eth0",
		// Without IgnoreUnknown the bridge plugin refuses the K8S_ args.
		Args: [][2]string{{"IgnoreUnknown", "1"}},
	}
	if len(ports) > 0 {
		maps := make([]PortMapping, len(ports))
		for i, p := range ports {
			if p.Protocol == "" {
				p.Protocol = "tcp"
			}
			p.Protocol = strings.ToLower(p.Protocol)
			maps[i] = p
		}
		rt.CapabilityArgs = map[string]any{"portMappings": maps}
	}
	return rt
}

// confList is the network: bridge with host-local IPAM, then portmap.
func confList(cfg Config) []byte {
	list := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cfg.Name,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      cfg.BridgeName,
				"isGateway":   true,
				"ipMasq":      cfg.IPMasq,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": cfg.Subnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": cfg.DataDir,
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
				"snat":         true,
			},
		},
	}
	b, _ := json.Marshal(list)
	return b
}

func pluginExists(dirs []string, name string) bool {
	for _, dir := range dirs {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}
