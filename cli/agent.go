package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/wake-run/wake/node/agent"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/proxy"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane/credentials"
	corev1 "k8s.io/api/core/v1"
)

// agentFlags are the node agent's settings, shared by `wake agent` and `wake up`.
type agentFlags struct {
	nodeName, labels, taints, stateDir, socket, namespace, podCIDR, bridge string
	clusterDomain                                                          string
	clusterDNS                                                             bool
	proxyMode, serviceCIDR                                                 string
	ingressHTTP, ingressHTTPS                                              string
}

func (f *agentFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.nodeName, "node-name", "", "name of this node (default: the hostname)")
	cmd.Flags().StringVar(&f.labels, "labels", "", "node labels, k=v,k2=v2")
	cmd.Flags().StringVar(&f.taints, "taints", "", "node taints, key=value:Effect,... (Effect: NoSchedule, PreferNoSchedule, NoExecute)")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "agent state (default /var/lib/wake/agent/<node>)")
	cmd.Flags().StringVar(&f.socket, "containerd-socket", "", "containerd socket to use (default: start a private containerd under the state dir)")
	cmd.Flags().StringVar(&f.namespace, "containerd-namespace", "wake", "containerd namespace of this node's containers")
	cmd.Flags().StringVar(&f.podCIDR, "pod-cidr", "10.88.0.0/24", "addresses of this node's pods")
	cmd.Flags().StringVar(&f.bridge, "bridge", "wake0", "the Linux bridge this node's pods attach to")
	cmd.Flags().StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "the cluster DNS domain (<svc>.<namespace>.svc.<domain>)")
	cmd.Flags().BoolVar(&f.clusterDNS, "cluster-dns", true, "serve the cluster DNS to this node's pods on the bridge's gateway address, port 53 (false: pods get the node's resolv.conf)")
	cmd.Flags().StringVar(&f.proxyMode, "proxy-mode", proxy.ModeNFTables, "service proxy: nftables (kernel rules), or userspace (TCP only, proxied by the agent, for machines without nft)")
	cmd.Flags().StringVar(&f.serviceCIDR, "service-cidr", proxy.DefaultServiceCIDR, "addresses of the cluster's Services (ClusterIPs): wake up allocates them from it, and the node routes it over the bridge for this host; must not overlap pod CIDRs")
	cmd.Flags().StringVar(&f.ingressHTTP, "ingress-http", ":80", "address of the node's ingress proxy for HTTP (\"\" serves none)")
	cmd.Flags().StringVar(&f.ingressHTTPS, "ingress-https", ":443", "address of the node's ingress proxy for HTTPS (\"\" serves none)")
}

// nodeRequirements is what preflight checks (tests replace it).
var nodeRequirements = host.Node

// preflight names, at once, every package this machine lacks to run pods,
// before anything starts. With --containerd-socket, containerd and runc are
// someone else's.
func (f *agentFlags) preflight() error {
	reqs := nodeRequirements
	if f.proxyMode == proxy.ModeNFTables {
		reqs = append(slices.Clone(reqs), host.NFTables, host.Conntrack)
	}
	if f.socket != "" {
		reqs = slices.DeleteFunc(slices.Clone(reqs), func(r host.Requirement) bool {
			return r.Package == host.Containerd.Package || r.Package == host.Runc.Package
		})
	}
	return host.Check(reqs...)
}

func (f *agentFlags) config(logger *slog.Logger) (agent.Config, error) {
	cfg := agent.Config{NodeName: f.nodeName, StateDir: f.stateDir, Socket: f.socket, Namespace: f.namespace,
		PodCIDR: f.podCIDR, Bridge: f.bridge, Logger: logger, Labels: map[string]string{},
		ClusterDomain: f.clusterDomain, NoClusterDNS: !f.clusterDNS, ProxyMode: f.proxyMode, ServiceCIDR: f.serviceCIDR,
		IngressHTTP: f.ingressHTTP, IngressHTTPS: f.ingressHTTPS}
	if f.proxyMode != proxy.ModeNFTables && f.proxyMode != proxy.ModeUserspace {
		return cfg, fmt.Errorf("--proxy-mode %q: use %s or %s", f.proxyMode, proxy.ModeNFTables, proxy.ModeUserspace)
	}
	if f.labels != "" {
		for _, kv := range strings.Split(f.labels, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return cfg, fmt.Errorf("--labels %q: use key=value,key2=value2", f.labels)
			}
			cfg.Labels[k] = v
		}
	}
	if f.taints != "" {
		for _, t := range strings.Split(f.taints, ",") {
			kv, effect, ok := strings.Cut(t, ":")
			k, v, _ := strings.Cut(kv, "=")
			switch corev1.TaintEffect(effect) {
			case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			default:
				ok = false
			}
			if !ok || k == "" {
				return cfg, fmt.Errorf("--taints %q: use key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute", t)
			}
			cfg.Taints = append(cfg.Taints, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
		}
	}
	return cfg, nil
}

func newAgentCmd(g *globals) *cobra.Command {
	var f agentFlags
	var logLevel, metricsAddr string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: run the pods the scheduler assigns to this node on containerd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(g.errOut, &slog.HandlerOptions{Level: level}))
			cfg, err := f.config(logger)
			if err != nil {
				return err
			}
			if err := f.preflight(); err != nil {
				return err
			}
			servers := g.server
			if servers == "" {
				servers = os.Getenv("WAKE_SERVER")
			}
			if servers == "" {
				servers = client.DefaultServer
			}
			opts := []nats.Option{nats.Name("wake-agent"), nats.MaxReconnects(-1)}
			creds := findCredentials(g.creds, credentials.NodeFile)
			if creds != "" {
				copts, err := credentials.Options(creds)
				if err != nil {
					return err
				}
				opts = append(opts, copts...)
			}
			nc, err := nats.Connect(servers, opts...)
			if errors.Is(err, nats.ErrAuthorization) {
				what := "no credentials"
				if creds != "" {
					what = "it does not know the credential in " + creds
				}
				return fmt.Errorf("the wake server at %s refused the node agent: %s (the node credential is %s in the server's data directory, /var/lib/wake by default; copy it to this machine and pass --credentials or set %s)",
					servers, what, credentials.NodeFile, credentials.EnvFile)
			}
			if err != nil {
				return fmt.Errorf("cannot reach the wake server at %s: %v", servers, err)
			}
			defer nc.Close()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			cfg.Metrics = reg
			ms, err := agent.ServeMetrics(metricsAddr, reg)
			if err != nil {
				return err
			}
			defer ms.Close()
			ctx := cmd.Context() // ends at SIGINT or SIGTERM (see Main)
			fmt.Fprintf(g.out, "wake agent %s: node %q joining %s\n", Version, cfg.NodeName, servers)
			if u := ms.URL(); u != "" {
				fmt.Fprintf(g.out, "  metrics       %s\n", u)
			}
			return agent.Run(ctx, nc, cfg)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", agent.DefaultMetricsAddr, "address of the agent's /metrics (127.0.0.1:0 picks a free port; off disables it)")
	return cmd
}
