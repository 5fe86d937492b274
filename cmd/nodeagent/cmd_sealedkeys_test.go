package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/serverwork"
	"github.com/nodeagent/nodeagent/internal/serverwork/child"
)

func TestWriteSealedKeys(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rec  *child.SealedKeysRecord
		want []string
	}{
		{name: "none"},
		{name: "saved", rec: &child.SealedKeysRecord{At: at, Dir: "/mnt/hd1/backups/sealed-secrets-keys", InCluster: 2, Written: []string{"k1"}},
			want: []string{"2 in the cluster, saved in /mnt/hd1/backups/sealed-secrets-keys (1 written)"}},
		{name: "put back", rec: &child.SealedKeysRecord{At: at, InCluster: 3, PutBack: []string{"k1", "k2"}, Restarted: true, Missing: []string{"k9"}},
			want: []string{"put back: k1, k2; controller restarted", "not put back: k9"}},
		{name: "failed", rec: &child.SealedKeysRecord{At: at, Error: "the backups disk is not mounted"},
			want: []string{"NOT KEPT: the backups disk is not mounted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeSealedKeys(&b, tc.rec)
			if tc.rec == nil && b.Len() != 0 {
				t.Errorf("wrote %q for no record", b.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("status %q lacks %q", b.String(), w)
				}
			}
		})
	}
}

func TestSealedKeysSummary(t *testing.T) {
	got := sealedKeysSummary(serverwork.SealedKeysResult{
		Saved:   serverwork.SaveResult{Written: []string{"a"}, Unchanged: []string{"b"}},
		PutBack: serverwork.PutBackResult{Created: []string{"a", "b"}, Restarted: true},
	})
	if want := "1 keys saved (1 unchanged); 2 put back (a, b); controller restarted"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
