package hostguard

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

func TestAllowed(t *testing.T) {
	hostname, _ := os.Hostname()
	tests := []struct {
		configured, served string
		host               string
		want               bool
	}{
		{"127.0.0.1:4280", "127.0.0.1:4280", "127.0.0.1:4280", true},
		{"127.0.0.1:4280", "127.0.0.1:4280", "localhost:4280", true},
		{"127.0.0.1:4280", "127.0.0.1:4280", "LOCALHOST.:4280", true},
		{"127.0.0.1:4280", "127.0.0.1:4280", "[::1]:4280", true},
		{"127.0.0.1:4280", "127.0.0.1:4280", "evil.example:4280", false},
		{"127.0.0.1:4280", "127.0.0.1:4280", "localhost.evil.example:4280", false},
		{"127.0.0.1:4280", "127.0.0.1:4280", "127.0.0.1:4281", false},
		{"127.0.0.1:4280", "127.0.0.1:4280", "127.0.0.1", false},
		{"127.0.0.1:4280", "127.0.0.1:4280", "", false},
		{"127.0.0.1:0", "127.0.0.1:39001", "127.0.0.1:39001", true},
		{"127.0.0.1:0", "127.0.0.1:39001", "evil.example:39001", false},
		{"127.0.0.1:80", "127.0.0.1:80", "localhost", true},
		{"127.0.0.1:80", "127.0.0.1:80", "evil.example", false},
		{"[::1]:4280", "[::1]:4280", "[::1]:4280", true},
		{"[::1]:4280", "[::1]:4280", "[::1]", false},
		{"dash.internal:4280", "10.1.2.3:4280", "dash.internal:4280", true},
		{"dash.internal:4280", "10.1.2.3:4280", "10.1.2.3:4280", true},
		{"dash.internal:4280", "10.1.2.3:4280", "10.1.2.4:4280", false},
		{"dash.internal:4280", "10.1.2.3:4280", "evil.example:4280", false},
		// Every interface (opt-in): IP literals and the machine's name, never another name.
		{"0.0.0.0:4280", "0.0.0.0:4280", "10.1.2.3:4280", true},
		{"0.0.0.0:4280", "0.0.0.0:4280", "[fd00::1]:4280", true},
		{"0.0.0.0:4280", "0.0.0.0:4280", hostname + ":4280", true},
		{"0.0.0.0:4280", "0.0.0.0:4280", "evil.example:4280", false},
		{":4280", "[::]:4280", "10.1.2.3:4280", true},
		{":4280", "[::]:4280", "evil.example:4280", false},
	}
	for _, tt := range tests {
		g := Wrap(http.NotFoundHandler(), tt.configured, tcpAddr(tt.served))
		if got := g.Allowed(tt.host); got != tt.want {
			t.Errorf("configured %s, served %s: Allowed(%q) = %v, want %v", tt.configured, tt.served, tt.host, got, tt.want)
		}
	}
}

func TestGuardRefusesAnotherHostWith421(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	g := Wrap(ok, "127.0.0.1:4280", tcpAddr("127.0.0.1:4280"))

	r := httptest.NewRequest("GET", "http://evil.example:4280/metrics", nil)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(w.Body.String(), `Host "evil.example:4280"`) {
		t.Errorf("Host evil.example:4280: %d %q, want 421 naming the host", w.Code, w.Body)
	}

	r = httptest.NewRequest("GET", "http://127.0.0.1:4280/metrics", nil)
	w = httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Errorf("Host 127.0.0.1:4280: %d %q, want the handler's answer", w.Code, w.Body)
	}
}
