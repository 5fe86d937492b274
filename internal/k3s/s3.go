package k3s

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/config"
)

// S3Credentials are the keys k3s uploads etcd snapshots to S3 with
// (etcd-s3-access-key, etcd-s3-secret-key). They reach k3s only through
// config.yaml, which is root-only, never through argv.
type S3Credentials struct {
	AccessKey string `yaml:"accessKey"`
	SecretKey string `yaml:"secretKey"`
}

// ReadS3Credentials reads the S3 keys from path: a YAML file with accessKey
// and secretKey, root-only like the token files. Errors name the file and
// the field, never a value.
func ReadS3Credentials(path string) (S3Credentials, error) {
	const what = "the etcd snapshot S3 credentials"
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return S3Credentials{}, fmt.Errorf("reading %s: %s does not exist; write it on every server (mode 0600) with the lines `accessKey: …` and `secretKey: …`: %w", what, path, err)
	}
	if err != nil {
		return S3Credentials{}, fmt.Errorf("reading %s: %w", what, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return S3Credentials{}, fmt.Errorf("reading %s: %s has mode %04o, readable by group or others; run chmod 600 %s", what, path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return S3Credentials{}, fmt.Errorf("reading %s: %w", what, err)
	}
	var c S3Credentials
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		// yaml.v3's messages quote field names and line numbers, not values
		// of known string fields; a value is never echoed here.
		return S3Credentials{}, fmt.Errorf("reading %s: %s: not a YAML mapping of accessKey and secretKey: %s", what, path, yamlErrorLines(err))
	}
	switch {
	case c.AccessKey == "":
		return S3Credentials{}, fmt.Errorf("reading %s: %s: accessKey is missing or empty", what, path)
	case c.SecretKey == "":
		return S3Credentials{}, fmt.Errorf("reading %s: %s: secretKey is missing or empty", what, path)
	}
	return c, nil
}

// yamlErrorLines keeps only where a YAML type error is: its line numbers,
// since its text can quote the value, which may be a key. A syntax error
// names a line and never quotes content.
func yamlErrorLines(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	var lines []string
	for _, e := range te.Errors {
		if m := yamlErrLine.FindString(e); m != "" {
			lines = append(lines, m)
		}
	}
	return strings.Join(lines, ", ") + " not understood (want only accessKey and secretKey, as strings)"
}

var yamlErrLine = regexp.MustCompile(`^line \d+`)

// renderEtcdS3 adds k3s's etcd-s3-* settings when the cluster file has S3.
func renderEtcdS3(m *orderedMap, s config.EtcdS3, creds S3Credentials) {
	if !s.Enabled() {
		return
	}
	m.add("etcd-s3", true)
	m.add("etcd-s3-endpoint", s.Endpoint)
	m.add("etcd-s3-bucket", s.Bucket)
	m.addNonEmpty("etcd-s3-folder", s.Folder)
	m.addNonEmpty("etcd-s3-region", s.Region)
	m.add("etcd-s3-access-key", creds.AccessKey)
	m.add("etcd-s3-secret-key", creds.SecretKey)
}
