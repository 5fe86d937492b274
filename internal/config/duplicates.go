package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// duplicateKeys reports every mapping key given twice in the same mapping.
// yaml.v3 refuses such a mapping as a whole and decodes none of it, so the
// validation that would follow sees its fields empty and reports them as
// missing (apiVersion "" for a duplicated top-level key), hiding the one
// line to fix. Keys are compared as yaml.v3's decoder compares them (kind
// and text), so this finds exactly what the decoder would refuse.
func duplicateKeys(root *yaml.Node) []FieldError {
	var out []FieldError
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		findDuplicates("", root.Content[0], &out)
	}
	return out
}

func findDuplicates(path string, n *yaml.Node, out *[]FieldError) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, child := n.Content[i], childPath(path, n.Content[i].Value)
			for j := 0; j < i; j += 2 {
				if first := n.Content[j]; first.Kind == key.Kind && first.Value == key.Value {
					*out = append(*out, FieldError{Line: key.Line, Field: child,
						Msg: fmt.Sprintf("duplicate key, first given at line %d", first.Line)})
					break
				}
			}
			findDuplicates(child, n.Content[i+1], out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			findDuplicates(fmt.Sprintf("%s[%d]", path, i), item, out)
		}
	}
	// Aliases are not followed (they may refer to themselves); the anchored
	// node is checked where it stands.
}

func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
