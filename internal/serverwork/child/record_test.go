package child

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/host"
)

func TestApplyRecordRoundTrip(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	if r, err := LoadApplyRecord(root); r != nil || err != nil {
		t.Fatalf("before any apply: %+v, %v; want nil, nil", r, err)
	}
	want := ApplyRecord{At: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), By: "pi4-1", Objects: 41,
		Counts: map[string]int{"unchanged": 40, "failed": 1}, Failures: []string{"Deployment/pihole/pihole: failed: x"}}
	if err := SaveApplyRecord(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadApplyRecord(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(root.Path(ApplyRecordPath))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if err := os.WriteFile(root.Path(ApplyRecordPath), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadApplyRecord(root); err == nil {
		t.Error("a corrupt record was read without error")
	}
}
