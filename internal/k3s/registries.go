package k3s

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// RegistriesPath is where k3s reads its image registry mirrors and their
// TLS when it starts (https://docs.k3s.io/installation/private-registry);
// a change takes a k3s restart, as config.yaml's does.
const RegistriesPath = "/etc/rancher/k3s/registries.yaml"

// registriesFile is registries.yaml in k3s's own key names.
type registriesFile struct {
	Mirrors map[string]registryMirror `yaml:"mirrors,omitempty"`
	Configs map[string]registryConfig `yaml:"configs,omitempty"`
}

type registryMirror struct {
	Endpoint []string          `yaml:"endpoint"`
	Rewrite  map[string]string `yaml:"rewrite,omitempty"`
}

type registryConfig struct {
	TLS registryTLS `yaml:"tls"`
}

type registryTLS struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

// RenderRegistries renders registries.yaml from k3s.registries, the same
// for every node, or nil when the cluster file configures none. It is
// deterministic (yaml.v3 sorts map keys), so an unchanged file is not
// rewritten and k3s not restarted.
func RenderRegistries(c *config.Cluster) ([]byte, error) {
	r := c.K3s.Registries
	if r.IsZero() {
		return nil, nil
	}
	f := registriesFile{}
	for name, m := range r.Mirrors {
		if f.Mirrors == nil {
			f.Mirrors = map[string]registryMirror{}
		}
		f.Mirrors[name] = registryMirror{Endpoint: m.Endpoint, Rewrite: m.Rewrite}
	}
	for host, rc := range r.Configs {
		if f.Configs == nil {
			f.Configs = map[string]registryConfig{}
		}
		t := rc.TLS
		f.Configs[host] = registryConfig{TLS: registryTLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, InsecureSkipVerify: t.InsecureSkipVerify}}
	}
	var buf bytes.Buffer
	buf.WriteString(configHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encoding k3s registries: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding k3s registries: %w", err)
	}
	return buf.Bytes(), nil
}

// registriesUpToDate reports whether registries.yaml already is data (mode
// 0600), or, for nil data, whether there is no file of nodeagent's to
// remove: one without its header was written by hand and stays.
func registriesUpToDate(root host.Root, data []byte) (bool, error) {
	p := root.Path(RegistriesPath)
	old, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return data == nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading k3s registries: %w", err)
	}
	if data == nil {
		return !bytes.HasPrefix(old, []byte(configHeader)), nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return false, fmt.Errorf("reading k3s registries: %w", err)
	}
	return bytes.Equal(old, data) && st.Mode().Perm() == 0o600, nil
}

// WriteRegistries puts data in place as registries.yaml, mode 0600 (a
// client key's path and the mirrors are nobody else's business), only when
// its bytes differ; nil data removes the file nodeagent wrote before. It
// reports whether anything changed.
func WriteRegistries(root host.Root, data []byte) (changed bool, err error) {
	same, err := registriesUpToDate(root, data)
	if err != nil || same {
		return false, err
	}
	if data == nil {
		if err := os.Remove(root.Path(RegistriesPath)); err != nil {
			return false, fmt.Errorf("removing k3s registries: %w", err)
		}
		return true, nil
	}
	changed, err = host.WriteFileAtomic(root.Path(RegistriesPath), data, 0o600)
	if err != nil {
		return false, fmt.Errorf("writing k3s registries: %w", err)
	}
	return changed, nil
}
