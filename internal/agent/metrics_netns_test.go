package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"

	"github.com/nodeagent/nodeagent/test/harness/netnsrun"
)

// The daemon's endpoint on its default address, started inside a network
// namespace, answers on that namespace's loopback and not on its veth
// address from a second namespace; an endpoint on every address (the
// control) does answer there, so the veth path works and the test would
// see an endpoint open to the LAN.
func TestMetricsDefaultStaysOnLoopback(t *testing.T) {
	if os.Getenv("NODEAGENT_INTEGRATION") != "1" {
		t.Skip("integration test: set NODEAGENT_INTEGRATION=1 (needs root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root to create network namespaces")
	}
	addr := config.Metrics{}.Address() // metrics.listen omitted
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	node, lan := metricsNamespaces(t)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	m, log := NewMetrics(), zaptest.NewLogger(t)
	err = netnsrun.InNamed(node, func() error {
		if _, err := serveMetrics(ctx, &wg, addr, m, log); err != nil {
			return err
		}
		_, err := serveMetrics(ctx, &wg, ":9470", m, log) // the control, on every address
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var body string
	if err := netnsrun.InNamed(node, func() (err error) { body, err = scrapeOnce("127.0.0.1:" + port); return err }); err != nil {
		t.Fatalf("scraping 127.0.0.1:%s in the node's namespace: %v", port, err)
	}
	if !strings.Contains(body, "200 OK") || !strings.Contains(body, "nodeagent_usb_hotplug_to_label_seconds") {
		t.Errorf("scrape in the node's namespace:\n%s", body)
	}
	if err := netnsrun.InNamed(lan, func() error { _, err := scrapeOnce(metricsNodeIP + ":9470"); return err }); err != nil {
		t.Fatalf("the control on every address is not reachable over the veth: %v", err)
	}
	err = netnsrun.InNamed(lan, func() error { _, err := scrapeOnce(metricsNodeIP + ":" + port); return err })
	if err == nil {
		t.Fatalf("the default endpoint answers from another namespace on %s:%s", metricsNodeIP, port)
	}
	t.Logf("from the LAN namespace: %v", err)
}

// The addresses of the veth pair between the two namespaces.
const (
	metricsNodeIP = "10.251.69.1"
	metricsLANIP  = "10.251.69.2"
)

// metricsNamespaces creates two network namespaces, a node and a LAN host,
// joined by a veth pair, and deletes them when the test ends.
func metricsNamespaces(t *testing.T) (node, lan string) {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b)
	node, lan = "nam"+id+"n", "nam"+id+"l"
	for _, ns := range []string{node, lan} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	ip(t, "link", "add", "vm"+id, "netns", node, "type", "veth", "peer", "name", "vl"+id, "netns", lan)
	ip(t, "-n", node, "addr", "add", metricsNodeIP+"/24", "dev", "vm"+id)
	ip(t, "-n", lan, "addr", "add", metricsLANIP+"/24", "dev", "vl"+id)
	ip(t, "-n", node, "link", "set", "vm"+id, "up")
	ip(t, "-n", lan, "link", "set", "vl"+id, "up")
	return node, lan
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// scrapeOnce sends one HTTP/1.0 GET /metrics on a connection dialled by the
// calling goroutine (so in its thread's namespace; an http.Client would
// dial from another goroutine) and returns the whole response.
func scrapeOnce(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}
