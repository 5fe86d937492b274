package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nodeagent/nodeagent/internal/host"
)

// BeforePath records ufw as nodeagent first found it, so that removing the
// package can put back what nodeagent alone changed.
const BeforePath = "/var/lib/nodeagent/ufw-before.json"

// before is ufw's state before nodeagent's first change.
type before struct {
	Installed bool     `json:"installed"`
	Active    bool     `json:"active"`
	Defaults  Defaults `json:"defaults"`
}

// recordBefore writes st as the state before nodeagent, unless a record is
// there: only the first change finds the owner's own state.
func (f *Firewall) recordBefore(st State) error {
	path := f.root.Path(BeforePath)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b := before{Installed: st.Installed, Active: st.Active, Defaults: st.Defaults}
	if !st.Installed {
		b.Defaults = packageDefaults()
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("recording ufw's state before nodeagent: %w", err)
	}
	if _, err := host.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording ufw's state before nodeagent: %w", err)
	}
	return nil
}

func (f *Firewall) readBefore() (before, bool, error) {
	var b before
	data, err := os.ReadFile(f.root.Path(BeforePath))
	if errors.Is(err, fs.ErrNotExist) {
		return b, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err != nil {
		return b, false, fmt.Errorf("reading %s: %w", BeforePath, err)
	}
	return b, true, nil
}

// UndoResult is what Undo changed and what it left, each in one line.
type UndoResult struct {
	Applied []Change
	Left    []string
}

// Undo puts ufw back as nodeagent found it in what nodeagent changed: its
// own rules go, the default policies and the enabled state return to the
// record. A ufw the owner had enabled stays enabled (nothing is opened that
// was closed before); one nodeagent enabled is disabled first, so the way
// in stays open throughout. Without a record (a node provisioned before
// records existed) an active ufw is left as it is and the result says so:
// deleting the SSH rule of an enabled ufw could lock the owner out.
func (f *Firewall) Undo(ctx context.Context) (UndoResult, error) {
	var res UndoResult
	st, err := f.Observe(ctx)
	if err != nil || !st.Installed {
		return res, err
	}
	b, recorded, err := f.readBefore()
	if err != nil {
		return res, err
	}
	var owned []Rule
	for _, r := range st.Rules {
		if r.Owned() {
			owned = append(owned, r)
		}
	}
	if !recorded && st.Active {
		if len(owned) > 0 {
			res.Left = append(res.Left, fmt.Sprintf("ufw: left enabled with nodeagent's %d rules: there is no record of its state before nodeagent (%s), and deleting the SSH rule of an enabled ufw could lock you out; `ufw status numbered` lists them (comments %s*)", len(owned), BeforePath, OwnerTag))
		}
		return res, nil
	}
	changes := undoChanges(st, b, recorded, owned)
	res.Applied, err = f.applyChanges(ctx, changes, "undoing a ufw change")
	if err != nil {
		return res, fmt.Errorf("undoing: %w", err)
	}
	if recorded && !b.Installed {
		res.Left = append(res.Left, "ufw: installed by nodeagent; the package stays (disabled, without nodeagent's rules)")
	}
	if err := os.Remove(f.root.Path(BeforePath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	return res, nil
}

// undoChanges orders the undo so the host is never more closed than either
// end state: disable first when nodeagent enabled ufw, put the defaults
// back before the rules go.
func undoChanges(st State, b before, recorded bool, owned []Rule) []Change {
	var out []Change
	if recorded && st.Active && !b.Active {
		out = append(out, Change{Description: "disable ufw (it was disabled before nodeagent)", Args: []string{"--force", "disable"}})
	}
	if recorded {
		for _, d := range []struct{ dir, have, want string }{
			{"incoming", st.Defaults.Incoming, b.Defaults.Incoming},
			{"outgoing", st.Defaults.Outgoing, b.Defaults.Outgoing},
			{"routed", st.Defaults.Routed, b.Defaults.Routed},
		} {
			if d.want != "" && d.have != d.want {
				out = append(out, Change{Description: "set default " + d.dir + " policy back to " + d.want,
					Args: []string{"default", d.want, d.dir}})
			}
		}
	}
	for _, r := range owned {
		out = append(out, Change{Description: "delete rule " + r.Comment, Args: r.DeleteArgs()})
	}
	return out
}
