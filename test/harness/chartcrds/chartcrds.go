// Package chartcrds loads the real CustomResourceDefinitions of the kinds
// nodeagent renders (HelmChart, IPAddressPool, L2Advertisement,
// ClusterIssuer, Certificate, ...) at the versions internal/config/default.yaml
// pins, so tests validate objects against the schemas k3s and the charts
// install rather than against permissive stand-ins.
//
// Every project ships its CRDs as YAML inside its Go module, so the CRDs are
// fetched with `go mod download` through the Go proxy into the module cache,
// which is the cache keyed by version: nothing upstream is copied into this
// repository, and the main go.mod does not grow these modules' dependencies.
// `make tools` downloads them ahead (test/tools/chart-crds).
package chartcrds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Source is one project's module and where its CRDs lie inside it.
type Source struct {
	// Component is what default.yaml pins: "k3s", "metallb", "certManager"
	// or "sealedSecrets".
	Component string
	// Pinned is the version default.yaml pins for Component (a chart
	// version, or k3s's release).
	Pinned string
	// Module and Version name the Go module holding the CRDs.
	Module, Version string
	// Glob matches the CRD files, relative to the module's root.
	Glob string
	// Note says how Version follows from Pinned.
	Note string
}

// Sources are the modules the CRDs come from. TestSourcesMatchDefaults fails
// when default.yaml pins another version, so a bump there is a bump here.
var Sources = []Source{
	{
		Component: "k3s", Pinned: "v1.33.5+k3s1",
		Module: "github.com/k3s-io/helm-controller", Version: "v0.16.13",
		// k3s embeds helm-controller and installs its HelmChart and
		// HelmChartConfig CRDs from these files (pkg/crds.List).
		Glob: "pkg/crds/yaml/generated/*.yaml",
		Note: "k3s's own module is not served (its +k3s1 tags are no module versions), " +
			"so its go.mod cannot be read here; v0.16.14 is the last helm-controller tag " +
			"before v1.33.5+k3s1 but the proxy does not serve it (no checksum-database " +
			"entry), so this is the nearest served one before it",
	},
	{
		Component: "metallb", Pinned: "0.15.2",
		Module: "go.universe.tf/metallb", Version: "v0.15.2",
		Glob: "config/crd/bases/*.yaml",
		Note: "chart and app share the version",
	},
	{
		Component: "certManager", Pinned: "v1.18.2",
		Module: "github.com/cert-manager/cert-manager", Version: "v1.18.2",
		// Helm templates whose directives sit in comments and in quoted
		// label values; decoding as YAML and dropping the labels leaves
		// the CRDs the chart installs.
		Glob: "deploy/crds/crd-*.yaml",
		Note: "chart and app share the version; served though `go list -m -versions` omits it",
	},
	{
		Component: "sealedSecrets", Pinned: "2.17.3",
		Module: "github.com/bitnami-labs/sealed-secrets", Version: "v0.30.0",
		Glob: "helm/sealed-secrets/crds/*.yaml",
		Note: "chart 2.17.3 has appVersion 0.30.0 (helm/sealed-secrets/Chart.yaml)",
	},
}

// Download fetches every Source's module through the Go proxy (a no-op for
// modules already in the module cache) and returns each module's directory,
// keyed by module path.
func Download(ctx context.Context) (map[string]string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("chart CRDs come from Go modules: %w", err)
	}
	args := []string{"mod", "download", "-json"}
	for _, s := range Sources {
		args = append(args, s.Module+"@"+s.Version)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	// Outside any module and workspace, so nothing here touches go.mod.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	dirs := map[string]string{}
	var problems []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go mod download's output: %w (stderr: %s)", err, stderr.String())
		}
		if m.Error != "" {
			problems = append(problems, m.Error)
			continue
		}
		dirs[m.Path] = m.Dir
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("downloading chart CRD modules: %s", strings.Join(problems, "; "))
	}
	if runErr != nil {
		return nil, fmt.Errorf("go mod download: %w (stderr: %s)", runErr, stderr.String())
	}
	for _, s := range Sources {
		if dirs[s.Module] == "" {
			return nil, fmt.Errorf("go mod download gave no directory for %s@%s", s.Module, s.Version)
		}
	}
	return dirs, nil
}

// Load downloads the modules and returns every CRD of every Source as one
// JSON document each, ready for apiserver.InstallCRDs.
func Load(ctx context.Context) ([][]byte, error) {
	byComponent, err := LoadByComponent(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, s := range Sources {
		out = append(out, byComponent[s.Component]...)
	}
	return out, nil
}

// LoadByComponent downloads the modules and returns the CRDs of each
// Source, keyed by its Component: what the k3s stand-in installs when it
// imitates k3s itself ("k3s") or a chart's install.
func LoadByComponent(ctx context.Context) (map[string][][]byte, error) {
	dirs, err := Download(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][][]byte{}
	for _, s := range Sources {
		files, err := filepath.Glob(filepath.Join(dirs[s.Module], s.Glob))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s@%s: no CRD files match %s", s.Module, s.Version, s.Glob)
		}
		for _, f := range files {
			crds, err := readCRDs(f)
			if err != nil {
				return nil, err
			}
			out[s.Component] = append(out[s.Component], crds...)
		}
	}
	return out, nil
}

// readCRDs decodes the CRDs of one file. Labels and annotations go: the
// labels of cert-manager's templates are unrendered Helm expressions, and
// neither takes part in validation.
func readCRDs(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out [][]byte
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: %s %q is not a CustomResourceDefinition", path, u.GetKind(), u.GetName())
		}
		u.SetLabels(nil)
		u.SetAnnotations(nil)
		j, err := u.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, j)
	}
}
