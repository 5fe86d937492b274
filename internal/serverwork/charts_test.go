package serverwork

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// chartTgz is a minimal chart archive: <name>/Chart.yaml, and a file that
// does not compress away, so its base64 is easy to look for.
func chartTgz(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{name + "/Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n"},
		{name + "/templates/cm.yaml", strings.Repeat("kind: ConfigMap # x\n", 50)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestClusterPlanChartFile: the plan names the chart file and its sha256,
// and --show-manifests shows that instead of the base64 it applies.
func TestClusterPlanChartFile(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	f.Platform.MetalLB.ChartFile = "/srv/charts/metallb.tgz"
	root := host.NewRoot(t.TempDir())
	data := chartTgz(t, "metallb", f.Platform.MetalLB.Version)
	p := root.Path(f.Platform.MetalLB.ChartFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	for _, show := range []bool{false, true} {
		node, err := ClusterPlan(f, root, show)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := plan.WriteText(&b, []plan.Node{node}); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if !strings.Contains(got, "from /srv/charts/metallb.tgz") || !strings.Contains(got, hash) {
			t.Errorf("plan (show=%v) does not name the chart file and its sha256 %s:\n%s", show, hash, got)
		}
		if b64 := base64.StdEncoding.EncodeToString(data); strings.Contains(got, b64[:40]) {
			t.Errorf("plan (show=%v) holds the chart's base64", show)
		}
		if show && !strings.Contains(got, "chartContent: '<base64 of /srv/charts/metallb.tgz") {
			t.Errorf("shown HelmChart lacks the chartContent stand-in:\n%s", got)
		}
	}

	// A file this machine cannot read is a note with the cluster file's
	// field, not a failed plan.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	node, err := ClusterPlan(f, root, false)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = plan.WriteText(&b, []plan.Node{node})
	if !strings.Contains(b.String(), "platform.metallb.chartFile") {
		t.Errorf("plan without the chart file does not say so:\n%s", b.String())
	}
}
