package child

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// ApplyRecordPath is where a server records its last manifests apply.
const ApplyRecordPath = "/var/lib/nodeagent/manifests.json"

// ApplyRecord is the outcome of this server's last manifests apply, written
// by the apply (in whichever process runs it) and read by `nodeagent
// status`, which must not need the API types to show it.
type ApplyRecord struct {
	At time.Time `json:"at"`
	// By is the server that applied: this one, or the holder of the apply
	// Lease when another server applied (HeldBy).
	By     string `json:"by"`
	HeldBy string `json:"heldBy,omitempty"`
	// Objects is the number of objects rendered; Counts tallies outcomes.
	Objects  int            `json:"objects"`
	Counts   map[string]int `json:"counts,omitempty"`
	Failures []string       `json:"failures,omitempty"`
	// Stopped is set when quorum was lost mid-apply; Error is a failure of
	// the apply as a whole.
	Stopped bool   `json:"stopped,omitempty"`
	Error   string `json:"error,omitempty"`
	// Generated names the Secrets this apply generated ("namespace/name").
	Generated []string `json:"generated,omitempty"`
	// Held says what this apply held back and why (the sealed-secrets
	// chart waiting for the backups node's key check).
	Held []string `json:"held,omitempty"`
	// Placement says which new workloads were created before the nodes
	// their pods are placed on were Ready (apply.nodesTimeout ran out).
	Placement []string `json:"placement,omitempty"`
}

// SaveApplyRecord writes the record atomically, readable by root only.
func SaveApplyRecord(root host.Root, r ApplyRecord) error {
	return saveRecord(root, ApplyRecordPath, "recording the manifests apply", r)
}

// LoadApplyRecord reads the record; nil when no apply has run here.
func LoadApplyRecord(root host.Root) (*ApplyRecord, error) {
	return loadRecord[ApplyRecord](root, ApplyRecordPath)
}

// saveRecord writes a record as indented JSON, atomically, root only.
func saveRecord(root host.Root, path, what string, r any) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if _, err := host.WriteFileAtomic(root.Path(path), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// loadRecord reads a record; nil when there is none.
func loadRecord[T any](root host.Root, path string) (*T, error) {
	data, err := os.ReadFile(root.Path(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var r T
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &r, nil
}
