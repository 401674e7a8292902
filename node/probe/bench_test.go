package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// probeLoad runs b.N probes as pods probers would: pods goroutines, each
// probing in turn, and reports the CPU (of the whole process, server side
// included) per probe and what pods pods with 1 s probes cost as a share of
// one core.
func probeLoad(b *testing.B, pods int, probe func() bool) {
	b.Helper()
	var wg sync.WaitGroup
	work := make(chan struct{}, pods)
	b.ResetTimer()
	start := cpuTime(b)
	for range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if !probe() {
					b.Error("probe failed")
				}
			}
		}()
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	cpu := cpuTime(b) - start
	b.StopTimer()
	perProbe := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perProbe, "cpu-ns/probe")
	// 100 pods probing every second: perProbe*100 ns of CPU per second.
	b.ReportMetric(perProbe*100/1e9*100, "%core@100pods/s")
}

func probeServer(b *testing.B) (*httptest.Server, string, int32) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	b.Cleanup(srv.Close)
	ip, port := hostPort(b, srv.URL)
	return srv, ip, port
}

// BenchmarkHTTPProbe is 100 pods' httpGet probers against a server on
// loopback: the prober's CPU per probe. Compare with BenchmarkHTTPFloor, the
// bare net/http GET on a fresh connection each time that any HTTP probe
// costs at least (go test -bench 'HTTP' ./node/probe/).
func BenchmarkHTTPProbe(b *testing.B) {
	_, ip, port := probeServer(b)
	p := New()
	a := Action{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}}
	t := Target{Container: "web", IP: ip}
	st := NewState(&corev1.Container{ReadinessProbe: &corev1.Probe{}})
	var mu sync.Mutex
	probeLoad(b, 100, func() bool {
		r := p.Run(context.Background(), a, t, time.Second)
		mu.Lock() // the agent folds each result into the container's state
		st.Observe(Readiness, r.OK)
		mu.Unlock()
		return r.OK
	})
}

// BenchmarkHTTPFloor is the raw floor of an HTTP probe: a bare GET on a new
// connection, the body read and closed.
func BenchmarkHTTPFloor(b *testing.B) {
	srv, _, _ := probeServer(b)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	url := srv.URL + "/healthz"
	probeLoad(b, 100, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
