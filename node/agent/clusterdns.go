package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"

	"github.com/wake-run/wake/node/clusterdns"
	"github.com/wake-run/wake/node/runtime"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// nodeDNS is the cluster DNS this agent serves its pods on the bridge's
// gateway address, port 53 (see package clusterdns), with the projection it
// answers from.
//
// The pods' nameserver is this node-local address rather than a DNS Service's
// ClusterIP: it works without the service proxy and without a hop through
// NAT, a pod's queries never leave its node, and each node answers from its
// own copy of the log, so no DNS pod must be running anywhere.
type nodeDNS struct {
	runner   *projections.Runner
	server   *clusterdns.Server
	settings clusterdns.PodSettings
}

// startDNS opens the DNS projection and serves the cluster DNS. A node that
// cannot bind port 53 there (another DNS server holds every address) runs
// its pods with the node's resolv.conf, and says so.
func (a *Agent) startDNS(ctx context.Context) error {
	host, _ := os.ReadFile("/etc/resolv.conf")
	a.dns.settings = clusterdns.PodSettings{Domain: a.cfg.ClusterDomain, Host: clusterdns.ParseResolvConf(string(host))}
	if a.cfg.NoClusterDNS {
		return nil
	}
	runner, err := projections.Open(filepath.Join(a.cfg.StateDir, "dns"), clusterdns.Projection(), a.log,
		append(a.metrics.runnerOptions(), projections.WithLogger(a.logger))...)
	if err != nil {
		return err
	}
	srv, err := clusterdns.Start(ctx, clusterdns.Config{Addr: net.JoinHostPort(a.hostIP, "53"),
		Zone:      clusterdns.NewZone(a.cfg.ClusterDomain, uint32(a.cfg.DNSTTL.Seconds()), net.ParseIP(a.hostIP)),
		Upstreams: a.cfg.DNSUpstreams, View: runner.View, Logger: a.logger})
	if err != nil {
		_ = runner.Close()
		a.logger.Error("no cluster DNS: pods get the node's resolv.conf", "err", err)
		return nil
	}
	a.dns.runner, a.dns.server, a.dns.settings.ClusterDNS = runner, srv, a.hostIP
	return nil
}

// stopDNS stops serving and closes the projection.
func (a *Agent) stopDNS() {
	if a.dns.server != nil {
		_ = a.dns.server.Close()
	}
	if a.dns.runner != nil {
		_ = a.dns.runner.Close()
	}
}

// podDNS is the pod's resolv.conf (see clusterdns.PodDNS).
func (a *Agent) podDNS(pod *corev1.Pod) *runtime.DNSConfig {
	cfg, warning := clusterdns.PodDNS(pod, a.dns.settings)
	if warning != "" {
		a.logger.Warn("DNSConfigForming", "pod", pod.Namespace+"/"+pod.Name, "message", warning)
	}
	return cfg
}
