package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// validateStrings rejects control characters in every key and string of the
// file. Cluster-file strings end up in line-oriented files nodeagent writes
// (mount units, k3s's config.yaml, ufw's rules, shell scripts of CronJobs),
// where a newline starts a line of the attacker's choosing. The free-form
// values that only ever reach Kubernetes objects as encoded strings (Helm
// values, container env) may hold newlines and tabs, as a PEM or a config
// snippet does.
func validateStrings(p *problems, idx lineIndex) {
	for _, path := range SortedKeys(idx.keys) {
		if r, bad := controlChar(idx.keys[path], false); bad {
			parent := path[:len(path)-len(idx.keys[path])]
			p.list = append(p.list, FieldError{Line: idx.lines[path], Field: strings.TrimSuffix(parent, "."),
				Msg: controlMsg("key ", idx.keys[path], r)})
		}
	}
	for _, path := range SortedKeys(idx.values) {
		if _, bad := controlChar(path, false); bad {
			continue // the key is reported above
		}
		if r, bad := controlChar(idx.values[path], freeForm.MatchString(path)); bad {
			p.add(path, "%s", controlMsg("", idx.values[path], r))
		}
	}
}

// freeForm matches the paths whose strings only reach Kubernetes objects.
var freeForm = regexp.MustCompile(`^(platform\.[^.]+\.values|workloads\.[^.]+\.env)[.\[]`)

// controlChar returns the first control character of s; multiline allows
// newline and tab.
func controlChar(s string, multiline bool) (rune, bool) {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return r, true
		}
	}
	return 0, false
}

func controlMsg(what, s string, r rune) string {
	return fmt.Sprintf("%s%q contains the control character %q: it could start a line of its own "+
		"in a file nodeagent writes (mount unit, k3s config, ufw rules, a CronJob's script)", what, s, r)
}
