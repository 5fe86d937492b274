package manifests

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

func homelab(t testing.TB) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatalf("loading the built-in homelab: %v", err)
	}
	return &f.Cluster
}

func render(t testing.TB, c *config.Cluster) Set {
	t.Helper()
	set, err := Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return set
}

func TestGoldenHomelab(t *testing.T) {
	c := homelab(t)
	set := render(t, c)
	data, err := YAML(set.Objects())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		got  []byte
	}{
		{"homelab.yaml", data},
		{"homelab-summary.txt", []byte(set.Summary())},
	} {
		t.Run(tc.file, func(t *testing.T) { golden.Check(t, tc.file, tc.got) })
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	c := homelab(t)
	first, err := YAML(render(t, c).Objects())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, err := YAML(render(t, c).Objects())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("render %d differs from the first:\n%s", i, cmp.Diff(string(first), string(again)))
		}
	}
}
