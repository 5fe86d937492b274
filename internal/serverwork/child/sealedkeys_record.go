package child

import (
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
	return saveRecord(root, SealedKeysRecordPath, "recording the sealed-secrets keys check", r)
}

// LoadSealedKeysRecord reads the record; nil when no check ran here.
func LoadSealedKeysRecord(root host.Root) (*SealedKeysRecord, error) {
	return loadRecord[SealedKeysRecord](root, SealedKeysRecordPath)
}
