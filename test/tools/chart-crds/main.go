// Command chart-crds downloads the Go modules whose CRDs the tests install
// (see test/harness/chartcrds) into the module cache, and prints each
// module's directory. `make tools` runs it so the tests need no network.
//
// With -out DIR it also writes each component's CRDs to DIR/<component>.json
// (one JSON document a line): build-k3s-standin.sh embeds them in the k3s
// stand-in, which installs the real schemas, not permissive ones.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/chartcrds"
)

func main() {
	out := flag.String("out", "", "also write each component's CRDs to `DIR`/<component>.json")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chart-crds:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	dirs, err := chartcrds.Download(ctx)
	if err != nil {
		return err
	}
	for _, s := range chartcrds.Sources {
		fmt.Fprintf(os.Stderr, "%s %s: %s\n", s.Component, s.Pinned, dirs[s.Module])
	}
	if out == "" {
		return nil
	}
	byComponent, err := chartcrds.LoadByComponent(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for component, crds := range byComponent {
		data := append(bytes.Join(crds, []byte("\n")), '\n')
		if err := os.WriteFile(filepath.Join(out, component+".json"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
