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

// LeftPath marks a node that left its cluster (`nodeagent leave`). While it
// is there, join and the daemon's passes refuse to bring the node back: its
// etcd member is gone, and a k3s started again on the old data would find
// itself removed from the cluster. `nodeagent uninstall` removes it with k3s,
// after which `nodeagent join` joins the node afresh.
const LeftPath = StateDir + "/left"

// Left is the record in LeftPath.
type Left struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
}

// ErrLeft is the refusal of a node that left its cluster.
var ErrLeft = errors.New("this node left the cluster")

// RecordLeft writes LeftPath.
func RecordLeft(root host.Root, node string, now time.Time) error {
	data, err := json.Marshal(Left{Node: node, At: now.UTC()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root.Path(StateDir), 0o700); err != nil {
		return err
	}
	_, err = host.WriteFileAtomic(root.Path(LeftPath), append(data, '\n'), 0o600)
	return err
}

// checkNotLeft returns ErrLeft, saying when and what to do, while
// LeftPath is there.
func checkNotLeft(root host.Root) error {
	data, err := os.ReadFile(root.Path(LeftPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", LeftPath, err)
	}
	var l Left
	_ = json.Unmarshal(data, &l) // a damaged record still means the node left
	return fmt.Errorf("%w (nodeagent leave, %s, recorded in %s): `nodeagent uninstall` removes k3s and this record, then `nodeagent join` joins again",
		ErrLeft, l.At.Format(time.RFC3339), LeftPath)
}
