// Command benchtable copies `go test -v` output from stdin to stdout and
// ends it with one table of the figures the measurements reported through
// test/harness/benchfig: figure, value, target, baseline in the same run,
// and whether the target was met. `make bench` pipes into it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

func main() {
	figures, err := copyAndCollect(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, figures)
}

// copyAndCollect passes every line on and keeps the figures among them.
func copyAndCollect(in io.Reader, out io.Writer) ([]benchfig.Figure, error) {
	var figures []benchfig.Figure
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(out, line)
		_, payload, found := strings.Cut(line, benchfig.Marker)
		if !found {
			continue
		}
		var f benchfig.Figure
		if err := json.Unmarshal([]byte(payload), &f); err != nil {
			fmt.Fprintf(out, "benchtable: unreadable figure %q: %v\n", payload, err)
			continue
		}
		figures = append(figures, f)
	}
	return figures, sc.Err()
}

func printTable(out io.Writer, figures []benchfig.Figure) {
	fmt.Fprintf(out, "\nSUMMARY: %d figures\n", len(figures))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FIGURE\tVALUE\tTARGET\tBASELINE (same run)\tMET")
	for _, f := range figures {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Value, dash(f.Target), dash(f.Baseline), verdict(f.Met))
	}
	_ = w.Flush()
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return "-"
	case *met:
		return "yes"
	default:
		return "NO"
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
