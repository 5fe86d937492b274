package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints plans for a terminal: numbered steps, then each action
// with its commands and the exact file content, indented.
func WriteText(w io.Writer, nodes []Node) error {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "== node %s (%s) ==\n", n.Node, n.Role)
		for j, s := range n.Steps {
			fmt.Fprintf(&b, "\n%d. %s: %s\n", j+1, s.Name, s.Summary)
			for _, note := range s.Notes {
				fmt.Fprintf(&b, "   · %s\n", note)
			}
			for _, a := range s.Actions {
				writeAction(&b, a)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAction(b *strings.Builder, a Action) {
	fmt.Fprintf(b, "   - %s\n", a.Description)
	for _, c := range a.Commands {
		fmt.Fprintf(b, "       $ %s\n", c)
	}
	if a.File == nil {
		return
	}
	fmt.Fprintf(b, "       %s (mode %s):\n", a.File.Path, a.File.Mode)
	for _, line := range strings.Split(strings.TrimRight(a.File.Content, "\n"), "\n") {
		fmt.Fprintf(b, "       | %s\n", line)
	}
}

// WriteJSON prints plans as one JSON document for scripts.
func WriteJSON(w io.Writer, nodes []Node) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"nodes": nodes})
}
