package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineIndex maps a field path ("nodes[1].address") to its line in the file,
// so validation errors can point at the line to fix, and keeps the text of
// scalar values to tell apart fields that share a line (a flow mapping).
type lineIndex struct {
	lines  map[string]int
	values map[string]string
	keys   map[string]string // path of a mapping entry -> its key as written
}

func indexLines(root *yaml.Node) lineIndex {
	idx := lineIndex{lines: map[string]int{}, values: map[string]string{}, keys: map[string]string{}}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		idx.walk("", root.Content[0])
	}
	return idx
}

func (idx lineIndex) walk(path string, n *yaml.Node) {
	if _, ok := idx.lines[path]; !ok {
		idx.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.ScalarNode:
		idx.values[path] = n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := childPath(path, key.Value)
			idx.lines[child] = key.Line
			idx.keys[child] = key.Value
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
		if l, ok := idx.lines[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return idx.lines[""]
}

// fieldAt returns the field a decoder message about line is about: among
// the paths on that line, one whose key is the key the message names, or
// whose value is the value it quotes (a flow mapping puts several fields on
// one line: `capacity: {memory: 8Gi, gpu: 1}`), else the deepest, else "".
func (idx lineIndex) fieldAt(line int, msg string) string {
	key, value := mentioned(msg)
	best, bestMatch := "", false
	for path, l := range idx.lines {
		if l != line {
			continue
		}
		match := (key != "" && lastKey(path) == key) || (value != "" && idx.valueMatches(path, value))
		if bestMatch && !match {
			continue
		}
		if match != bestMatch || deeper(path, best) {
			best, bestMatch = path, match
		}
	}
	return best
}

func deeper(path, than string) bool {
	return len(path) > len(than) || (len(path) == len(than) && path < than)
}

func lastKey(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// valueMatches compares with the value as yaml.v3 quotes it: values over
// ten characters are cut to seven and "...".
func (idx lineIndex) valueMatches(path, quoted string) bool {
	v, ok := idx.values[path]
	if prefix, cut := strings.CutSuffix(quoted, "..."); cut && len(v) > 10 {
		return ok && strings.HasPrefix(v, prefix)
	}
	return ok && v == quoted
}

// mentioned picks the key or value a yaml.v3 type error names:
// "field gpu not found in ..." or "cannot unmarshal !!str `four` into ...".
func mentioned(msg string) (key, value string) {
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if k, _, ok := strings.Cut(rest, " not found in "); ok {
			return k, ""
		}
	}
	if _, rest, ok := strings.Cut(msg, "`"); ok {
		if v, _, ok := strings.Cut(rest, "`"); ok {
			return "", v
		}
	}
	return "", ""
}
