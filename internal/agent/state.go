package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// StateDir is nodeagent's own state (systemd's StateDirectory=nodeagent).
const StateDir = "/var/lib/nodeagent"

// State is what nodeagent remembers between runs.
type State struct {
	Joined     bool      `json:"joined"`
	JoinedAt   time.Time `json:"joinedAt,omitempty"`
	LastErrors []string  `json:"lastErrors,omitempty"`
	// Reboot is the last reboot nodeagent asked for (preflight.reboot).
	Reboot *RebootRecord `json:"reboot,omitempty"`
	// ClusterCA is the sha256 of the cluster CA (what /cacerts serves),
	// recorded once this server is an etcd member. If its etcd data is lost,
	// the next join is pinned to it like a K10 token, so this node never
	// initialises a second cluster (k3s.DecideJoin).
	ClusterCA string `json:"clusterCA,omitempty"`
}

func statePath(root host.Root) string { return root.Path(StateDir + "/state.json") }

// LoadState reads the state file; a missing file is the zero State.
func LoadState(root host.Root) (State, error) {
	var s State
	data, err := os.ReadFile(statePath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("reading state %s: %w: %w", statePath(root), ErrCorruptState, err)
	}
	return s, nil
}

// ErrCorruptState is a state file that does not parse.
var ErrCorruptState = errors.New("corrupt state file")

// loadState is LoadState for the work that writes state: a corrupt file is
// moved aside and the work goes on with a fresh state, saying so. Failing
// on it instead failed every join forever, since nothing rewrote it
// (issue #22, item 3). A fresh state forgets the recorded cluster CA and
// reboot; the k3s data on disk still says the node joined.
func (a *Agent) loadState() (State, error) {
	st, err := LoadState(a.Root)
	if !errors.Is(err, ErrCorruptState) {
		return st, err
	}
	aside, merr := moveStateAside(a.Root, a.Clock.Now())
	if merr != nil {
		return State{}, errors.Join(err, merr)
	}
	a.log.Warn("state file corrupt: moved aside, starting with a fresh state",
		zap.String("file", StateDir+"/state.json"), zap.String("movedTo", aside), zap.Error(err))
	a.Reporter.Status("state file " + StateDir + "/state.json was corrupt: moved to " + aside + ", starting with a fresh state")
	return State{}, nil
}

// moveStateAside renames the state file to state.json.corrupt-<UTC time>,
// readable by root only like the state, and returns the new host path.
func moveStateAside(root host.Root, now time.Time) (string, error) {
	aside := StateDir + "/state.json.corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(statePath(root), root.Path(aside)); err != nil {
		return "", fmt.Errorf("moving the corrupt state aside: %w", err)
	}
	if err := os.Chmod(root.Path(aside), 0o600); err != nil {
		return "", fmt.Errorf("moving the corrupt state aside: %w", err)
	}
	return aside, nil
}

// SaveState writes the state file atomically, readable by root only.
func SaveState(root host.Root, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = host.WriteFileAtomic(statePath(root), append(data, '\n'), 0o600)
	return err
}

// recordError keeps the last few errors for `nodeagent status`.
func (s *State) recordError(err error, at time.Time) {
	msg := at.UTC().Format(time.RFC3339) + " " + err.Error()
	s.LastErrors = append(s.LastErrors, msg)
	if n := len(s.LastErrors); n > 5 {
		s.LastErrors = s.LastErrors[n-5:]
	}
}
