package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineIndex maps a field path ("nodes[1].address") to its line in the file,
// so validation errors can point at the line to fix.
type lineIndex map[string]int

func indexLines(root *yaml.Node) lineIndex {
	idx := lineIndex{}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		idx.walk("", root.Content[0])
	}
	return idx
}

func (idx lineIndex) walk(path string, n *yaml.Node) {
	if _, ok := idx[path]; !ok {
		idx[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := key.Value
			if path != "" {
				child = path + "." + key.Value
			}
			idx[child] = key.Line
			idx.walk(child, val)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			idx.walk(fmt.Sprintf("%s[%d]", path, i), item)
		}
	}
	// Aliases are not followed: they may refer to themselves, and the anchor
	// already carries the line to point at.
}

// line returns the line of path, or of its nearest ancestor in the file
// (a defaulted field has no line of its own), or 0.
func (idx lineIndex) line(path string) int {
	for path != "" {
		if l, ok := idx[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return idx[""]
}

// fieldAt returns the deepest field path that starts on line, or "".
func (idx lineIndex) fieldAt(line int) string {
	best := ""
	for path, l := range idx {
		if l == line && (len(path) > len(best) || (len(path) == len(best) && path < best)) {
			best = path
		}
	}
	return best
}
