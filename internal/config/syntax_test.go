package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// breakLine replaces line n (1-based) of the built-in cluster file.
func breakLine(t *testing.T, n int, with func(string) string) []byte {
	t.Helper()
	lines := bytes.Split(DefaultYAML(), []byte("\n"))
	if n > len(lines) {
		t.Fatalf("the built-in file has %d lines", len(lines))
	}
	lines[n-1] = []byte(with(string(lines[n-1])))
	return bytes.Join(lines, []byte("\n"))
}

func lineOf(t *testing.T, text string) int {
	t.Helper()
	for i, l := range strings.Split(string(DefaultYAML()), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("no line with %q in the built-in file", text)
	return 0
}

// Syntax errors name the line the mistake is on, not the one above it.
func TestSyntaxErrorsNameTheMistakesLine(t *testing.T) {
	ssh := lineOf(t, "sshSources:")
	cases := []struct {
		name string
		line int
		edit func(string) string
		msg  string
	}{
		{"unclosed flow sequence", ssh, func(l string) string { return strings.TrimSuffix(l, "]") }, "did not find expected ',' or ']'"},
		{"bad indent", ssh, func(l string) string { return " " + l }, ""},
		{"tab", ssh, func(l string) string { return "\t" + strings.TrimLeft(l, " ") }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cluster.yaml", breakLine(t, tc.line, tc.edit))
			if err == nil {
				t.Fatal("no error")
			}
			want := fmt.Sprintf("cluster.yaml:%d: ", tc.line)
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error = %q, want it to start %q and say %q", err, want, tc.msg)
			}
		})
	}
}

// A quote left open is found only at the next quote: the error names both.
func TestAnUnclosedQuoteNamesWhereItBegan(t *testing.T) {
	ssh := lineOf(t, "sshSources:")
	_, err := Parse("cluster.yaml", breakLine(t, ssh, func(l string) string { return strings.Replace(l, "[", `["`, 1) }))
	if want := fmt.Sprintf("(in what begins on line %d)", ssh); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
}

func TestUnknownFieldSuggestsTheNearest(t *testing.T) {
	for typo, want := range map[string]string{
		"sshSorces":   "(did you mean sshSources?)",
		"SSHSources":  "(did you mean sshSources?)",
		"sshSourcess": "(did you mean sshSources?)",
		"wholeNewKey": "not found in Firewall",
	} {
		line := lineOf(t, "sshSources:")
		_, err := Parse("cluster.yaml", breakLine(t, line, func(l string) string { return strings.Replace(l, "sshSources", typo, 1) }))
		if err == nil {
			t.Fatalf("%s: no error", typo)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("cluster.yaml:%d: firewall.%s: field %s not found", line, typo, typo)) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %q, want the line, the field and %q", typo, err, want)
		}
		if typo == "wholeNewKey" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%s: suggests a field for a name nothing like one: %q", typo, err)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"sshsorces", "sshsources", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
