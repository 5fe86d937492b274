// Package chartfile reads the Helm chart archives (.tgz) that the cluster
// file names with platform.<component>.chartFile: the charts of a cluster
// without a route to their repositories, sent to k3s's helm controller in
// the HelmChart itself (spec.chartContent). It checks what the controller
// would only find out in a failed install Job: that the file is a chart,
// the one and the version the cluster file says, small enough to be stored.
package chartfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"

	"sigs.k8s.io/yaml"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// MaxSize bounds a chart file. Its base64 goes into the HelmChart, and
// helm-controller copies it into a ConfigMap (chart-content-<name>) for the
// install Job: a ConfigMap holds at most 1 MiB of data, so 768 KiB of chart
// (1 MiB of base64); the HelmChart then also stays well under etcd's 1.5 MiB
// request limit.
const MaxSize = 768 << 10

// maxUnpacked bounds what is decompressed while looking for Chart.yaml, so
// a small file that inflates without end costs nothing.
const maxUnpacked = 64 << 20

// Chart is a chart archive read from the node.
type Chart struct {
	// Path is the file as the cluster file names it.
	Path string
	// Data is the file's bytes, for spec.chartContent.
	Data []byte
	// SHA256 is Data's hash, hex: what plan output shows instead of Data.
	SHA256 string
	// Name and Version are those of the archive's Chart.yaml.
	Name, Version string
}

// Read reads the chart archive at path under root: a regular file only root
// could have written (host.OpenTrusted, as the manifest overlay), at most
// MaxSize, a gzip tar with a top-level <dir>/Chart.yaml.
func Read(root host.Root, file string) (*Chart, error) {
	f, err := host.OpenTrusted(root.Path(file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is over %d KiB: its base64 would not fit the 1 MiB ConfigMap helm-controller copies it to (nor, with the HelmChart, etcd's 1.5 MiB request limit); serve the chart from a repository instead", file, MaxSize>>10)
	}
	name, version, err := chartMeta(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(data)
	return &Chart{Path: file, Data: data, SHA256: hex.EncodeToString(sum[:]), Name: name, Version: version}, nil
}

// chartMeta finds the chart's own Chart.yaml (<dir>/Chart.yaml, not a
// subchart's <dir>/charts/<sub>/Chart.yaml) and returns its name and version.
func chartMeta(data []byte) (name, version string, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", "", fmt.Errorf("not a gzip file (a chart is the .tgz of helm package): %w", err)
	}
	tr := tar.NewReader(io.LimitReader(zr, maxUnpacked))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", "", errors.New("no Chart.yaml at the top of the archive: not a Helm chart")
		}
		if err != nil {
			return "", "", fmt.Errorf("not a tar archive: %w", err)
		}
		dir, base := path.Split(path.Clean(h.Name))
		if base != "Chart.yaml" || h.Typeflag != tar.TypeReg || dir == "" || path.Dir(path.Clean(dir)) != "." {
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return "", "", fmt.Errorf("reading %s: %w", h.Name, err)
		}
		var meta struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return "", "", fmt.Errorf("%s: %w", h.Name, err)
		}
		if meta.Name == "" || meta.Version == "" {
			return "", "", fmt.Errorf("%s names no chart name and version", h.Name)
		}
		return meta.Name, meta.Version, nil
	}
}

// ForCluster reads the chart file of every enabled platform component that
// has one and checks it is the chart and version the component names.
// Problems come back together as the cluster file's errors, at the line of
// the field to fix (chartFile, chart or version). It returns the charts by
// component chart name, as manifests.Inputs takes them.
func ForCluster(root host.Root, f *config.File) (map[string]*Chart, error) {
	out := map[string]*Chart{}
	var problems []config.FieldError
	for _, h := range f.Platform.Charts() {
		if !h.IsEnabled() || h.ChartFile == "" {
			continue
		}
		ch, err := Read(root, h.ChartFile)
		if err != nil {
			problems = append(problems, f.Problem(h.Field+".chartFile", "%v", err))
			continue
		}
		if ch.Name != h.Chart {
			problems = append(problems, f.Problem(h.Field+".chart", "%q, but %s holds chart %q", h.Chart, h.ChartFile, ch.Name))
		}
		if trimV(ch.Version) != trimV(h.Version) {
			problems = append(problems, f.Problem(h.Field+".version", "%q, but %s holds version %q", h.Version, h.ChartFile, ch.Version))
		}
		out[h.Chart] = ch
	}
	if len(problems) > 0 {
		return nil, f.ErrorsOf(problems)
	}
	return out, nil
}

// trimV compares versions as Helm does: a leading "v" does not count
// (cert-manager's chart is v1.18.2, MetalLB's 0.15.2).
func trimV(v string) string {
	if len(v) > 1 && v[0] == 'v' {
		return v[1:]
	}
	return v
}
