package main

import (
	"slices"
	"strings"
)

// componentArgs merges k3s's default flags for one embedded component with
// the config's <component>-arg entries (kube-apiserver-arg,
// kube-controller-manager-arg, kube-scheduler-arg, kubelet-arg), the way
// k3s's GetArgs does (pkg/util/args.go, called from
// pkg/daemons/control/server.go and pkg/daemons/agent/agent.go):
//
//   - an entry is "flag=value" or "flag" (value "true"), with or without
//     the leading "--";
//   - "flag=value" replaces k3s's default for flag; repeating the entry
//     passes the flag once per entry, in order;
//   - "flag+=value" passes the default (if any), the earlier entries, then
//     value; "flag-=value" passes value before them.
//
// The result is sorted by flag name, an entry's repeats kept in order, as
// "--flag=value". Whether the component knows a flag is for the component's
// own parser to say (it refuses an unknown one, as in k3s).
func componentArgs(defaults map[string]string, extra []string) []string {
	values := map[string][]string{}
	fromDefault := map[string]bool{}
	for k, v := range defaults {
		values[k] = []string{v}
		fromDefault[k] = true
	}
	for _, e := range extra {
		name, value, ok := strings.Cut(strings.TrimPrefix(e, "--"), "=")
		if !ok {
			value = "true"
		}
		key := strings.TrimRight(name, "+-")
		prev := values[key]
		if fromDefault[key] && !strings.HasSuffix(name, "+") && !strings.HasSuffix(name, "-") {
			// A plain entry drops the default; a later plain entry of the
			// same flag keeps the earlier entries.
			prev = nil
		}
		fromDefault[key] = false
		switch {
		case strings.HasSuffix(name, "+"):
			values[key] = append(slices.Clone(prev), value)
		case strings.HasSuffix(name, "-"):
			values[key] = append([]string{value}, prev...)
		default:
			values[key] = append(slices.Clone(prev), value)
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var args []string
	for _, k := range keys {
		for _, v := range values[k] {
			args = append(args, "--"+k+"="+v)
		}
	}
	return args
}
