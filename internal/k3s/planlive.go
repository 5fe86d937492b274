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

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
	"github.com/nodeagent/nodeagent/internal/release"
)

// PlanLive is what Ensure would change on this host now: the same step as
// Plan, its actions narrowed to what differs from what is installed (the
// binary's hash, config.yaml key by key, registries.yaml, the unit file). It only reads; the
// token is compared but never shown.
//
// The join keys are those a joined node keeps; on a node that has not
// joined they are decided at join, from the other servers' answers, so the
// plan shows them undecided and does not compare them.
func (m *Manager) PlanLive(ctx context.Context) (plan.Step, error) {
	installed, err := m.CheckUpgrade()
	if err != nil {
		return plan.Step{}, err
	}
	j, joined, err := keptJoin(m.root, m.cluster, m.node)
	if err != nil {
		return plan.Step{}, err
	}
	if !joined {
		j = Join{Undecided: true}
	}
	step, err := planJoin(m.cluster, m.node, j)
	if err != nil {
		return step, err
	}
	fresh := step.Actions
	step.Actions = nil
	changed := false
	add := func(a plan.Action) { step.Actions = append(step.Actions, a); changed = true }
	note := func(s string) { step.Notes = append(step.Notes, s) }

	bin, upToDate, err := m.binaryChange(fresh[0])
	switch {
	case err != nil:
		return step, err
	case bin == nil:
		note(upToDate)
	case strings.HasPrefix(bin.Description, "verify "):
		step.Actions = append(step.Actions, *bin) // may turn out a no-op
	default:
		add(*bin)
	}
	if m.node.Role == config.RoleAgent && installed != "" && installed != m.cluster.K3s.Version {
		note("k3s " + m.cluster.K3s.Version + " goes in on this agent only once every server's Node reports it (servers first, then agents)")
	}

	cfg, err := m.configChange(fresh[1], j)
	if err != nil {
		return step, err
	}
	if cfg != nil {
		add(*cfg)
	} else {
		note(ConfigPath + " up to date")
	}

	regs, err := RenderRegistries(m.cluster)
	if err != nil {
		return step, err
	}
	regsSame, err := registriesUpToDate(m.root, regs)
	switch {
	case err != nil:
		return step, err
	case regsSame && regs != nil:
		note(RegistriesPath + " up to date")
	case regs == nil && !regsSame:
		add(plan.Action{Description: "remove " + RegistriesPath + ": nodeagent wrote it and k3s.registries is empty now"})
	case regs != nil:
		add(fresh[2])
	}
	unitAction, restartAction := fresh[len(fresh)-2], fresh[len(fresh)-1]

	unitSame, err := m.unitUpToDate()
	if err != nil {
		return step, err
	}
	if unitSame {
		note("unit " + UnitName(m.node.Role) + " up to date")
	} else {
		add(unitAction)
	}

	m.planRestart(&step, changed, restartAction)
	return step, ctx.Err()
}

// planRestart adds the restart a change needs, or one still pending.
func (m *Manager) planRestart(step *plan.Step, changed bool, freshRestart plan.Action) {
	unit := UnitName(m.node.Role)
	switch {
	case changed:
		step.Actions = append(step.Actions, freshRestart)
	case m.restartPending():
		step.Actions = append(step.Actions, plan.Action{Description: "restart " + unit + ": a restart an earlier change needed is still pending",
			Commands: []string{"systemctl restart " + unit}})
	default:
		step.Notes = append(step.Notes, "nothing to restart: "+unit+" is only started if it is not running")
	}
}

// binaryChange is the install of the binary, or nil and why it is up to date.
func (m *Manager) binaryChange(freshInstall plan.Action) (*plan.Action, string, error) {
	inst, err := m.installer.Check(m.cluster.K3s, m.node.Arch)
	switch {
	case err != nil:
		return nil, "", err
	case !inst.Present:
		return &freshInstall, "", nil
	case inst.UpToDate():
		return nil, "k3s binary up to date (sha256 " + inst.SHA256 + ")", nil
	case inst.Want == "":
		return &plan.Action{Description: fmt.Sprintf("verify %s (sha256 %s) against %s; replace it if it differs",
			release.BinaryPath, inst.SHA256, m.releaseChecksum())}, "", nil
	}
	return &plan.Action{Description: fmt.Sprintf("replace %s: installed sha256 %s, release %s", release.BinaryPath, inst.SHA256, inst.Want)}, "", nil
}

// unitUpToDate compares the unit file systemd loads with UnitFile.
func (m *Manager) unitUpToDate() (bool, error) {
	unit := UnitName(m.node.Role)
	have, err := os.ReadFile(m.root.Path("/etc/systemd/system/" + unit))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading %s: %w", unit, err)
	}
	return bytes.Equal(have, UnitFile(m.node.Role)), nil
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
func (m *Manager) configChange(freshWrite plan.Action, j Join) (*plan.Action, error) {
	have, err := os.ReadFile(m.root.Path(ConfigPath))
	if errors.Is(err, fs.ErrNotExist) {
		return &freshWrite, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	tokens, tokenErr := ReadTokens(m.root, m.cluster, m.node)
	if tokenErr != nil {
		tokens = RedactedTokens
	}
	want, err := RenderConfig(m.cluster, m.node, tokens, j)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(have, want) {
		return nil, nil
	}
	keys := differingKeys(have, want, tokenErr == nil, !j.Undecided)
	if (tokenErr != nil || j.Undecided) && len(keys) == 0 {
		// Without the token or the join the files cannot be compared byte for byte.
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
// value is compared only when known, and never returned, only its name; the
// join keys only when decided.
func differingKeys(have, want []byte, withToken, withJoin bool) []string {
	var h, w map[string]any
	if yaml.Unmarshal(have, &h) != nil {
		return []string{"(unreadable YAML)"}
	}
	_ = yaml.Unmarshal(want, &w)
	var out []string
	for _, k := range unionKeys(h, w) {
		if (k == "token" || k == "agent-token") && !withToken || (k == "server" || k == "cluster-init") && !withJoin {
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
