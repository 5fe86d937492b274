package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

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
		return s, fmt.Errorf("reading state %s: %w", statePath(root), err)
	}
	return s, nil
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
