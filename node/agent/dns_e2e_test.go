package agent_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startUpstreamDNS serves, on loopback, the names the node's own resolver
// knows in this test: outside.test and db.example.test; every other name is
// NXDOMAIN. It stands in for the node's resolvers: there is no internet here.
func startUpstreamDNS(t *testing.T) string {
	t.Helper()
	known := map[string]string{"outside.test.": "192.0.2.1", "db.example.test.": "192.0.2.10"}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		switch ip, ok := known[strings.ToLower(q.Name)]; {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

const dnsManifests = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.50
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- addresses: [10.66.24.200]
  hostname: db-0
  conditions: {ready: true}
- addresses: [10.66.24.201]
  conditions: {ready: true}
- addresses: [10.66.24.202]
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: db.example.test
---
apiVersion: v1
kind: Service
metadata: {name: cache}
spec:
  clusterIP: None
  selector: {app: cache}
  ports: [{name: redis, port: 6379}]
---
apiVersion: v1
kind: Pod
metadata: {name: cache-0, labels: {app: cache}}
spec:
  hostname: cache-0
  subdomain: cache
  terminationGracePeriodSeconds: 0
  containers:
  - {name: main, image: "busybox:1.35", command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: main, image: "busybox:1.35", command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: custom}
spec:
  terminationGracePeriodSeconds: 0
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.66.24.1]
    searches: [example.test]
    options: [{name: ndots, value: "1"}, {name: edns0}]
  containers:
  - {name: main, image: "busybox:1.35", command: [sleep, "3600"]}
`

// TestClusterDNS asks the node's cluster DNS from inside a busybox pod, with
// busybox's nslookup: a Service by short name (through the search list) and
// by FQDN, a headless Service (one address per ready endpoint), SRV of a
// named port, an ExternalName (CNAME, its target resolved upstream), a pod's
// hostname in its subdomain, and a name outside the cluster forwarded to the
// node's resolver (a DNS server on loopback here). The pods' resolv.conf is
// the kubelet's for ClusterFirst and for None with a dnsConfig. (busybox's
// nslookup tries the search list only for names without a dot: a dotted name
// is asked as it is.)
func TestClusterDNS(t *testing.T) {
	cl := startClusterWith(t, 0, "node-n", "10.66.24.0/24", "wke2en")
	cl.stopAgent()
	cl.cfg.DNSUpstreams = []string{startUpstreamDNS(t)}
	cl.startAgent()
	importDemo(t, cl)
	cl.apply(dnsManifests)
	for _, name := range []string{"client", "cache-0", "custom"} {
		eventually(t, name+" running", 60*time.Second, func() bool { return running(cl.pod(name)) })
	}
	cacheIP := cl.pod("cache-0").Status.PodIP

	exec := func(pod string, cmd ...string) (string, error) {
		out, errOut, err := cl.wake("", append([]string{"exec", pod, "--"}, cmd...)...)
		return out + errOut, err
	}
	cat, err := exec("client", "cat", "/etc/resolv.conf")
	if err != nil {
		t.Fatalf("cat /etc/resolv.conf: %v: %s", err, cat)
	}
	for _, line := range []string{"nameserver 10.66.24.1\n", "search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5\n"} {
		if !strings.Contains(cat, line) {
			t.Errorf("ClusterFirst resolv.conf lacks %q:\n%s", line, cat)
		}
	}
	if cat, _ := exec("custom", "cat", "/etc/resolv.conf"); cat != "nameserver 10.66.24.1\nsearch example.test\noptions ndots:1 edns0\n" {
		t.Errorf("None resolv.conf:\n%s", cat)
	}

	for _, tc := range []struct {
		name      string
		cmd       []string
		want, not []string
	}{
		{"short name through the search list", []string{"nslookup", "web"},
			[]string{"web.default.svc.cluster.local", "Address: 10.96.0.50"}, nil},
		{"FQDN", []string{"nslookup", "web.default.svc.cluster.local."}, []string{"Address: 10.96.0.50"}, nil},
		{"headless: one address per ready endpoint", []string{"nslookup", "db"},
			[]string{"Address: 10.66.24.200", "Address: 10.66.24.201"}, []string{"10.66.24.202"}},
		{"SRV of a named port", []string{"nslookup", "-type=srv", "_pg._tcp.db.default.svc.cluster.local"},
			[]string{"5432 db-0.db.default.svc.cluster.local", "5432 10-66-24-201.db.default.svc.cluster.local"}, []string{"10-66-24-202"}},
		{"ExternalName", []string{"nslookup", "ext"},
			[]string{"canonical name = db.example.test", "Address: 192.0.2.10"}, nil},
		{"a pod's hostname in its subdomain", []string{"nslookup", "cache-0.cache.default.svc.cluster.local"},
			[]string{"cache-0.cache.default.svc.cluster.local", "Address: " + cacheIP}, nil},
		{"a name outside the cluster, forwarded", []string{"nslookup", "outside.test"},
			[]string{"Address: 192.0.2.1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out string
			ok := func() bool {
				out, _ = exec("client", tc.cmd...)
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						return false
					}
				}
				return true
			}
			deadline := time.Now().Add(20 * time.Second)
			for !ok() && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%v: lacks %q:\n%s", tc.cmd, w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("%v: has %q:\n%s", tc.cmd, n, out)
				}
			}
		})
	}
	if out, err := exec("client", "nslookup", "nope.default.svc.cluster.local."); err == nil || !strings.Contains(out, "NXDOMAIN") {
		t.Errorf("an unknown Service: %v\n%s", err, out)
	}
}
