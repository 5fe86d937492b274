package firewall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
)

// Files ufw keeps its configuration in (Debian's ufw 0.36).
const (
	userRulesPath  = "/etc/ufw/user.rules"
	user6RulesPath = "/etc/ufw/user6.rules"
	defaultsPath   = "/etc/default/ufw"
)

// State is the live ufw configuration of a node.
type State struct {
	// Installed is false when the ufw command does not exist.
	Installed bool
	// Active is whether ufw's rules are loaded (not only ENABLED=yes in
	// ufw.conf: after a flush or a failed boot the two differ).
	Active   bool
	Defaults Defaults
	// Rules are the rules of user.rules and user6.rules, merged.
	Rules []Rule
}

// packageDefaults are the policies Debian's ufw package ships, the state a
// fresh install starts from.
func packageDefaults() Defaults {
	return Defaults{Incoming: "deny", Outgoing: "allow", Routed: "deny"}
}

// Observe reads the live state: one `ufw status` (whether the rules are
// loaded) and ufw's files for the rules, their comments and the defaults.
// It changes nothing.
func (f *Firewall) Observe(ctx context.Context) (State, error) {
	out, err := f.run.Run(ctx, "ufw", "status")
	if errors.Is(err, exec.ErrNotFound) {
		return State{Defaults: packageDefaults()}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("reading ufw status: %w", err)
	}
	st := State{Installed: true, Active: parseActive(out)}
	var lists [][]Rule
	for _, p := range []string{userRulesPath, user6RulesPath} {
		rs, err := f.readRules(p)
		if err != nil {
			return State{}, err
		}
		lists = append(lists, rs)
	}
	st.Rules = mergeRules(lists...)
	data, err := f.readFile(defaultsPath)
	if err != nil {
		return State{}, err
	}
	st.Defaults = parseDefaults(data)
	return st, nil
}

func (f *Firewall) readRules(hostPath string) ([]Rule, error) {
	data, err := f.readFile(hostPath)
	if err != nil {
		return nil, err
	}
	rs, err := ParseUserRules(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", f.root.Path(hostPath), err)
	}
	return rs, nil
}

// readFile reads a ufw file; a missing one reads as empty (user6.rules is
// absent when IPv6 is off).
func (f *Firewall) readFile(hostPath string) ([]byte, error) {
	p := f.root.Path(hostPath)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return data, nil
}
