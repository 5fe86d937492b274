package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// locateSyntaxError puts a YAML syntax error on the line it is on. yaml.v3
// reports the line where the enclosing construct began, counted from 0 for
// parser errors (an unclosed '[' on line 91 says "line 90"), so the message
// alone points above the mistake. The mistake shows on the first line
// whose prefix of the file already fails with the same message (parsing
// each prefix is cheap for a cluster file, and only done after an error).
// Where that is below the construct's start (an unclosed quote found only
// at the next quote), the message names the start too.
func locateSyntaxError(data []byte, fe FieldError) FieldError {
	line := problemLine(data, fe)
	// yaml.v3 counts a parser error's construct from 0, a scanner error's
	// from 1 (and then the prefix fails on that very line).
	if line > fe.Line+1 && fe.Line > 0 {
		fe.Msg += fmt.Sprintf(" (in what begins on line %d)", fe.Line+1)
	}
	fe.Line = line
	return fe
}

func problemLine(data []byte, reported FieldError) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prefix []byte
	for i, line := range lines {
		prefix = append(prefix, line...)
		var n yaml.Node
		err := yaml.Unmarshal(prefix, &n)
		if err == nil {
			continue
		}
		if fe := syntaxError(err); fe.Msg == reported.Msg && fe.Line == reported.Line {
			return i + 1
		}
	}
	return reported.Line
}

// suggestField adds "did you mean x?" to an unknown-field error when a
// field of that type is a small typo away.
func suggestField(msg string) string {
	var field, typ string
	if n, _ := fmt.Sscanf(msg, "field %s not found in %s", &field, &typ); n != 2 {
		return msg
	}
	t, ok := structTypes()[typ]
	if !ok {
		return msg
	}
	best, bestDist := "", len(field)/3+1 // at most a third of the name wrong
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if d := editDistance(strings.ToLower(field), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return msg
	}
	return msg + " (did you mean " + best + "?)"
}

// structTypes are the cluster file's struct types by name, as yaml.v3 names
// them in its errors (after parseLineMessage drops the package).
func structTypes() map[string]reflect.Type {
	types := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || types[t.Name()] != nil {
			return
		}
		types[t.Name()] = t
		for i := 0; i < t.NumField(); i++ {
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeOf(Cluster{}))
	return types
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
