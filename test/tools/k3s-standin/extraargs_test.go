package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestComponentArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		defaults map[string]string
		extra    []string
		want     []string
	}{
		{"defaults only, sorted", map[string]string{"b": "2", "a": "1"}, nil, []string{"--a=1", "--b=2"}},
		{"entry replaces the default", map[string]string{"node-monitor-grace-period": "40s", "profiling": "false"},
			[]string{"node-monitor-grace-period=20s"}, []string{"--node-monitor-grace-period=20s", "--profiling=false"}},
		{"leading dashes accepted, bare flag is true", nil, []string{"--v=2", "leader-elect"}, []string{"--leader-elect=true", "--v=2"}},
		{"repeated entry passes each", map[string]string{"a": "d"}, []string{"a=1", "a=2"}, []string{"--a=1", "--a=2"}},
		{"append keeps the default", map[string]string{"controllers": "*"}, []string{"controllers+=-foo"},
			[]string{"--controllers=*", "--controllers=-foo"}},
		{"prepend goes first", map[string]string{"a": "d"}, []string{"a-=x"}, []string{"--a=x", "--a=d"}},
		{"value with = kept whole", nil, []string{"feature-gates=A=true"}, []string{"--feature-gates=A=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, componentArgs(tc.defaults, tc.extra)); diff != "" {
				t.Errorf("componentArgs (-want +got):\n%s", diff)
			}
		})
	}
}
