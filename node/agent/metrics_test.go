package agent_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/node/agent"
)

// getWithHost fetches url sending host as the Host header.
func getWithHost(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestMetricsAnswerOnlyRequestsForTheirOwnAddress(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "wake_test_total", Help: "test"})
	reg.MustRegister(c)
	ms, err := agent.ServeMetrics("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(ms.URL(), "http://"), "/metrics")
	port := addr[strings.LastIndex(addr, ":")+1:]
	for _, host := range []string{addr, "localhost:" + port} {
		if code, body := getWithHost(t, ms.URL(), host); code != http.StatusOK || !strings.Contains(body, "wake_test_total") {
			t.Errorf("Host %s: %d, want 200 with the metrics", host, code)
		}
	}
	for _, host := range []string{"evil.example:" + port, "evil.example:4280"} {
		if code, body := getWithHost(t, ms.URL(), host); code != http.StatusMisdirectedRequest || strings.Contains(body, "wake_test_total") {
			t.Errorf("Host %s: %d %q, want 421 and no metrics", host, code, body)
		}
	}
}
