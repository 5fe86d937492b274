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

// SealedKeysRecordPath is where the backups node records its last
// sealed-secrets keys check.
const SealedKeysRecordPath = "/var/lib/nodeagent/sealed-keys.json"

// SealedKeysRecord is the outcome of the last `nodeagent sealed-keys` on
// the backups node, for `nodeagent status`: Secret names and counts, never
// key material.
type SealedKeysRecord struct {
	At time.Time `json:"at"`
	// Dir is where the keys are saved.
	Dir string `json:"dir"`
	// InCluster counts the key Secrets the cluster held after the run.
	InCluster int      `json:"inCluster"`
	Written   []string `json:"written,omitempty"`
	PutBack   []string `json:"putBack,omitempty"`
	Restarted bool     `json:"controllerRestarted,omitempty"`
	// Missing are saved keys the cluster lacks while it holds others: not
	// put back (a person deleted them).
	Missing []string `json:"missing,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// SaveSealedKeysRecord writes the record atomically, readable by root only.
func SaveSealedKeysRecord(root host.Root, r SealedKeysRecord) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if _, err := host.WriteFileAtomic(root.Path(SealedKeysRecordPath), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the sealed-secrets keys check: %w", err)
	}
	return nil
}

// LoadSealedKeysRecord reads the record; nil when no check ran here.
func LoadSealedKeysRecord(root host.Root) (*SealedKeysRecord, error) {
	data, err := os.ReadFile(root.Path(SealedKeysRecordPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", SealedKeysRecordPath, err)
	}
	var r SealedKeysRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", SealedKeysRecordPath, err)
	}
	return &r, nil
}
