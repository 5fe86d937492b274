package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/host"
)

// DefaultPath is where the cluster file lives on a node.
const DefaultPath = "/etc/nodeagent/cluster.yaml"

// BuiltinName is the source name used for the built-in default.
const BuiltinName = "built-in homelab"

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the built-in homelab cluster file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// File is a decoded and validated cluster file with where it came from.
type File struct {
	Cluster
	// Source is the path the file was read from, or BuiltinName.
	Source string
	lines  lineIndex
}

// Default returns the built-in homelab cluster.
func Default() (*File, error) { return Parse(BuiltinName, defaultYAML) }

// Load reads and validates the cluster file at path. The file is applied
// with the cluster's admin credentials, so it is read only if root alone
// could have written it (host.ReadTrusted): owned by root, not writable by
// others, not a symbolic link.
func Load(path string) (*File, error) {
	data, err := host.ReadTrusted(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly (unknown keys are errors), applies defaults and
// validates. All problems are returned together as an *Errors.
func Parse(source string, data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Errors{Source: source, List: []FieldError{locateSyntaxError(data, syntaxError(err))}}
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && len(root.Content) == 0) {
		return nil, &Errors{Source: source, List: []FieldError{{Line: 1, Msg: "the file is empty"}}}
	}
	if dups := duplicateKeys(&root); len(dups) > 0 {
		// The decoder drops a mapping with a duplicate key whole; what
		// validation would say of the rest is noise.
		return nil, &Errors{Source: source, List: dups}
	}
	f := &File{Source: source, lines: indexLines(&root)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var decodeErrs []FieldError
	if err := dec.Decode(&f.Cluster); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Errors{Source: source, List: []FieldError{locateSyntaxError(data, syntaxError(err))}}
		}
		// Type errors leave the rest decoded: validate it too, so the
		// user sees every problem at once.
		decodeErrs = f.decodeErrors(te)
	}
	f.applyDefaults()
	if errs := append(decodeErrs, f.validate()...); len(errs) > 0 {
		sortByLine(errs)
		return nil, &Errors{Source: source, List: errs}
	}
	return f, nil
}

// decodeErrors turns yaml.v3's "line N: message" errors into FieldErrors
// named after the field on that line.
func (f *File) decodeErrors(te *yaml.TypeError) []FieldError {
	out := make([]FieldError, 0, len(te.Errors))
	for _, msg := range te.Errors {
		fe := parseLineMessage(msg)
		fe.Field = f.lines.fieldAt(fe.Line, fe.Msg)
		fe.Msg = suggestField(fe.Msg)
		out = append(out, fe)
	}
	return out
}

func syntaxError(err error) FieldError {
	return parseLineMessage(strings.TrimPrefix(err.Error(), "yaml: "))
}

// parseLineMessage splits "line 12: field foo not found in type config.Node".
func parseLineMessage(msg string) FieldError {
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	msg = strings.Replace(msg, " in type config.", " in ", 1)
	return FieldError{Line: line, Msg: msg}
}
