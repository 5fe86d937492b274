// Command chart-crds downloads the Go modules whose CRDs the tests install
// (see test/harness/chartcrds) into the module cache, and prints each
// module's directory. `make tools` runs it so the tests need no network.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/chartcrds"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dirs, err := chartcrds.Download(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart-crds:", err)
		os.Exit(1)
	}
	for _, s := range chartcrds.Sources {
		fmt.Printf("%s %s: %s\n", s.Component, s.Pinned, dirs[s.Module])
	}
}
