// Package hostguard protects local web endpoints (the dashboard, /metrics) from DNS
// rebinding: a page on another site whose name was made to resolve to 127.0.0.1
// can make a browser send requests to a local port, but they carry that site's
// name in their Host header. Requests are answered only when their Host names the
// address the endpoint serves.
package hostguard

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Guard answers requests whose Host header names the address it serves, and
// refuses every other with 421 Misdirected Request.
type Guard struct {
	next  http.Handler
	port  string
	hosts map[string]bool
	// anyIP: the endpoint listens on every interface (an explicit non-loopback
	// choice), so a Host that is an IP literal is one of its addresses. An IP
	// literal cannot be rebound; only names can.
	anyIP bool
}

// Wrap returns next guarded for the listener at served, which was opened for the
// configured address (a --http or --addr value such as "127.0.0.1:0" or
// "myhost:4280"). Allowed hosts are 127.0.0.1, localhost and [::1], the configured
// host, and the listener's own IP, each with the served port (80 when the Host
// names none); when served is a wildcard address, any IP literal and this machine's
// host name too.
func Wrap(next http.Handler, configured string, served net.Addr) *Guard {
	g := &Guard{next: next, hosts: map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true}}
	host, port, err := net.SplitHostPort(served.String())
	if err == nil {
		g.port = port
		ip := net.ParseIP(host)
		g.anyIP = ip != nil && ip.IsUnspecified()
		if !g.anyIP {
			g.hosts[normalize(host)] = true
		}
	}
	if h, _, err := net.SplitHostPort(configured); err == nil && h != "" {
		g.hosts[normalize(h)] = true
	}
	if g.anyIP {
		if name, err := os.Hostname(); err == nil {
			g.hosts[normalize(name)] = true
		}
	}
	return g
}

func normalize(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Allowed reports whether a request with this Host header is for the guarded
// endpoint.
func (g *Guard) Allowed(hostHeader string) bool {
	host, port, err := net.SplitHostPort(hostHeader)
	if err != nil { // no port: the scheme's default
		host, port = strings.Trim(hostHeader, "[]"), "80"
	}
	if host == "" || port != g.port {
		return false
	}
	host = normalize(host)
	if g.hosts[host] {
		return true
	}
	return g.anyIP && net.ParseIP(host) != nil
}

// ServeHTTP passes allowed requests on and refuses the others.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.Allowed(r.Host) {
		http.Error(w, fmt.Sprintf("misdirected request: Host %q is not an address this endpoint serves (use http://127.0.0.1:%s/ or http://localhost:%s/); other names are refused to protect against DNS rebinding",
			r.Host, g.port, g.port), http.StatusMisdirectedRequest)
		return
	}
	g.next.ServeHTTP(w, r)
}
