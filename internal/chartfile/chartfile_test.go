package chartfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// ChartTgz builds a chart archive as helm package lays it out: entries
// under <name>/, here a subchart's Chart.yaml first, which must not count.
func chartTgz(t testing.TB, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := []struct{ name, body string }{
		{name + "/charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 9.9.9\n"},
		{name + "/Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n"},
		{name + "/values.yaml", "replicas: 1\n"},
	}
	for _, f := range files {
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

func writeFile(t testing.TB, root host.Root, file string, data []byte, mode os.FileMode) {
	t.Helper()
	p := root.Path(file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func TestRead(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	data := chartTgz(t, "metallb", "0.15.2")
	writeFile(t, root, "/srv/charts/metallb.tgz", data, 0o644)
	ch, err := Read(root, "/srv/charts/metallb.tgz")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if ch.Name != "metallb" || ch.Version != "0.15.2" || ch.SHA256 != hex.EncodeToString(sum[:]) || !bytes.Equal(ch.Data, data) {
		t.Errorf("Read = %s %s %s (%d bytes), want metallb 0.15.2 with the file's hash and bytes", ch.Name, ch.Version, ch.SHA256, len(ch.Data))
	}
}

func TestReadRefuses(t *testing.T) {
	big := make([]byte, MaxSize+1)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	noChart := func() []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		_ = tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Typeflag: tar.TypeReg})
		_ = tw.Close()
		_ = zw.Close()
		return buf.Bytes()
	}()
	for _, tc := range []struct {
		name string
		data []byte
		mode os.FileMode
		want string
	}{
		{"writable by others", chartTgz(t, "metallb", "0.15.2"), 0o666, "writable by others"},
		{"too big", big, 0o644, "1 MiB ConfigMap"},
		{"not gzip", []byte("apiVersion: v2\n"), 0o644, "not a gzip file"},
		{"no Chart.yaml", noChart, 0o644, "no Chart.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := host.NewRoot(t.TempDir())
			writeFile(t, root, "/srv/c.tgz", tc.data, tc.mode)
			_, err := Read(root, "/srv/c.tgz")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/srv/c.tgz") {
				t.Errorf("Read = %v, want an error naming the file and %q", err, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		root := host.NewRoot(t.TempDir())
		writeFile(t, root, "/srv/other", nil, 0o644)
		if _, err := Read(root, "/srv/c.tgz"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Read = %v, want not exist", err)
		}
	})
}

const clusterFile = `apiVersion: nodeagent.dev/v1alpha1
kind: Cluster
metadata: {name: lab}
k3s:
  version: v1.33.5+k3s1
network:
  lanCIDR: 10.0.0.0/24
platform:
  metallb:
    chart: metallb
    version: 0.15.2
    chartFile: /srv/charts/metallb.tgz
  certManager:
    version: v1.18.2
    chartFile: /srv/charts/cert-manager.tgz
  sealedSecrets:
    chartFile: /srv/charts/missing.tgz
    enabled: false
nodes:
  - {name: a, address: 10.0.0.10}
`

// TestForCluster: a chart and version other than the component's are
// errors at the line of the field; a disabled component's file is not read.
func TestForCluster(t *testing.T) {
	f, err := config.Parse("cluster.yaml", []byte(clusterFile))
	if err != nil {
		t.Fatal(err)
	}
	root := host.NewRoot(t.TempDir())
	writeFile(t, root, "/srv/charts/metallb.tgz", chartTgz(t, "metallb", "0.15.2"), 0o644)
	writeFile(t, root, "/srv/charts/cert-manager.tgz", chartTgz(t, "cert-manager", "v1.18.2"), 0o644)
	charts, err := ForCluster(root, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || charts["metallb"].Version != "0.15.2" || charts["cert-manager"].Name != "cert-manager" {
		t.Errorf("ForCluster = %v, want metallb and cert-manager", charts)
	}

	writeFile(t, root, "/srv/charts/metallb.tgz", chartTgz(t, "metal-lb", "0.14.0"), 0o644)
	_, err = ForCluster(root, f)
	want := []string{
		`cluster.yaml:10: platform.metallb.chart: "metallb", but /srv/charts/metallb.tgz holds chart "metal-lb"`,
		`cluster.yaml:11: platform.metallb.version: "0.15.2", but /srv/charts/metallb.tgz holds version "0.14.0"`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("ForCluster = %v, want:\n%s", err, strings.Join(want, "\n"))
	}
}

// BenchmarkRead reads a chart of about MaxSize (its templates random, so
// they do not compress away): the cost each server pays per apply.
func BenchmarkRead(b *testing.B) {
	root := host.NewRoot(b.TempDir())
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	noise := make([]byte, MaxSize-8<<10)
	if _, err := rand.Read(noise); err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{"big/Chart.yaml", []byte("name: big\nversion: 1.0.0\n")}, {"big/files/noise", noise}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	writeFile(b, root, "/srv/big.tgz", buf.Bytes(), 0o644)
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Read(root, "/srv/big.tgz"); err != nil {
			b.Fatal(err)
		}
	}
}
