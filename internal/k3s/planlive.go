package k3s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/release"
)

// PlanLive is what Ensure would change on this host now: the same step as
// Plan, its actions narrowed to what differs from what is installed (the
// binary's hash, config.yaml key by key, the unit file). It only reads; the
// token is compared but never shown.
func (m *Manager) PlanLive(ctx context.Context) (plan.Step, error) {
	step, err := Plan(m.cluster, m.node)
	if err != nil {
		return step, err
	}
	fresh := step.Actions
	step.Actions = nil
	changed := false
	add := func(a plan.Action) { step.Actions = append(step.Actions, a); changed = true }
	note := func(s string) { step.Notes = append(step.Notes, s) }

	inst, err := m.installer.Check(m.cluster.K3s, m.node.Arch)
	switch {
	case err != nil:
		return step, err
	case !inst.Present:
		add(fresh[0])
	case inst.UpToDate():
		note("k3s binary up to date (sha256 " + inst.SHA256 + ")")
	case inst.Want == "":
		step.Actions = append(step.Actions, plan.Action{Description: fmt.Sprintf(
			"verify %s (sha256 %s) against %s; replace it if it differs", release.BinaryPath, inst.SHA256, m.releaseChecksum())})
	default:
		add(plan.Action{Description: fmt.Sprintf("replace %s: installed sha256 %s, release %s", release.BinaryPath, inst.SHA256, inst.Want)})
	}

	cfg, err := m.configChange(fresh[1])
	if err != nil {
		return step, err
	}
	if cfg != nil {
		add(*cfg)
	} else {
		note(ConfigPath + " up to date")
	}

	unit := UnitName(m.node.Role)
	have, err := os.ReadFile(m.root.Path("/etc/systemd/system/" + unit))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return step, fmt.Errorf("reading %s: %w", unit, err)
	}
	if bytes.Equal(have, UnitFile(m.node.Role)) {
		note("unit " + unit + " up to date")
	} else {
		add(fresh[2])
	}

	switch {
	case changed:
		step.Actions = append(step.Actions, fresh[3])
	case m.restartPending():
		step.Actions = append(step.Actions, plan.Action{Description: "restart " + unit + ": a restart an earlier change needed is still pending",
			Commands: []string{"systemctl restart " + unit}})
	default:
		note("nothing to restart: " + unit + " is only started if it is not running")
	}
	return step, ctx.Err()
}

func (m *Manager) releaseChecksum() string {
	rel, err := release.Resolve(m.cluster.K3s, m.node.Arch)
	if err != nil {
		return "the release checksum file"
	}
	return rel.ChecksumLoc
}

// configChange returns the rewrite of config.yaml with the keys that
// differ, or nil when it is up to date. freshWrite holds the content with
// the token redacted.
func (m *Manager) configChange(freshWrite plan.Action) (*plan.Action, error) {
	have, err := os.ReadFile(m.root.Path(ConfigPath))
	if errors.Is(err, fs.ErrNotExist) {
		return &freshWrite, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	token, tokenErr := ReadToken(m.root.Path(m.cluster.K3s.TokenFile))
	if tokenErr != nil {
		token = plan.Redacted
	}
	want, err := RenderConfig(m.cluster, m.node, token)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(have, want) {
		return nil, nil
	}
	keys := differingKeys(have, want, tokenErr == nil)
	if tokenErr != nil && len(keys) == 0 {
		// Without the token the files cannot be compared byte for byte.
		return nil, nil
	}
	what := "differs in " + strings.Join(keys, ", ")
	if len(keys) == 0 {
		what = "differs in layout or comments only"
	}
	a := freshWrite
	a.Description = "rewrite k3s config: " + ConfigPath + " " + what
	return &a, nil
}

// differingKeys names the top-level keys whose values differ; the token's
// value is compared only when known, and never returned, only its name.
func differingKeys(have, want []byte, withToken bool) []string {
	var h, w map[string]any
	if yaml.Unmarshal(have, &h) != nil {
		return []string{"(unreadable YAML)"}
	}
	_ = yaml.Unmarshal(want, &w)
	var out []string
	for _, k := range unionKeys(h, w) {
		if k == "token" && !withToken {
			continue
		}
		if !reflect.DeepEqual(h[k], w[k]) {
			out = append(out, k)
		}
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
