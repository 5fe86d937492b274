package firewall

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

func TestReadBatchOutput(t *testing.T) {
	for _, tc := range []struct {
		out               string
		step              int
		done, unsupported bool
	}{
		{"", -1, false, false},
		{"nodeagent-batch: step 0\nRules updated\nnodeagent-batch: step 1\nnodeagent-batch: done\n", 1, true, false},
		{"nodeagent-batch: step 0\nRule added\nnodeagent-batch: step 1\n", 1, false, false},
		{"nodeagent-batch: unsupported: No module named 'ufw'\n", -1, false, true},
	} {
		step, done, unsupported := readBatchOutput(tc.out)
		if step != tc.step || done != tc.done || unsupported != tc.unsupported {
			t.Errorf("readBatchOutput(%q) = %d, %v, %v; want %d, %v, %v", tc.out, step, done, unsupported, tc.step, tc.done, tc.unsupported)
		}
	}
}

// TestBatchRealUFW: the changes go through one process of the real ufw in a
// namespace; a bad change in the middle stops the batch there, keeps what
// came before, and the error names that change.
func TestBatchRealUFW(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	root, ufw := ufwHost(t, "-batch")
	fw := New(root, ufw, zaptest.NewLogger(t))
	rule := func(port, comment string) Change {
		r := Rule{Action: "allow", Direction: "in", Proto: "tcp", From: labPeer, To: Any, SPort: Any, Port: port, Comment: comment}
		return Change{Description: "add rule " + comment, Args: r.AddArgs()}
	}
	good := []Change{rule("7001", "nodeagent:a"), rule("7002", "nodeagent:b"), {Description: "enable ufw", Args: []string{"--force", "enable"}}}
	ufw.reset()
	done, err := fw.applyChanges(ctx, good, "changing ufw")
	if err != nil {
		t.Fatal(err)
	}
	if _, writes := ufw.counts(); len(done) != len(good) || writes != 1 {
		t.Errorf("batch of %d: %d done in %d processes, want all in 1", len(good), len(done), writes)
	}
	st, err := fw.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for _, r := range st.Rules {
		comments = append(comments, r.Comment)
	}
	if diff := cmp.Diff([]string{"nodeagent:a", "nodeagent:b"}, comments); diff != "" || !st.Active {
		t.Errorf("after the batch: active %v, rules (-want +got):\n%s", st.Active, diff)
	}

	bad := []Change{rule("7003", "nodeagent:c"), {Description: "add rule broken", Args: []string{"allow", "proto", "tcp"}}, rule("7004", "nodeagent:d")}
	done, err = fw.applyChanges(ctx, bad, "changing ufw")
	if err == nil || !strings.Contains(err.Error(), `"add rule broken"`) || !strings.Contains(err.Error(), "ufw allow proto tcp") {
		t.Fatalf("batch with a bad change: error %v, want one naming the change and its ufw command", err)
	}
	if len(done) != 1 || done[0].Description != "add rule nodeagent:c" {
		t.Errorf("done before the bad change = %+v, want only nodeagent:c", done)
	}
	if st, err = fw.Observe(ctx); err != nil {
		t.Fatal(err)
	}
	comments = comments[:0]
	for _, r := range st.Rules {
		comments = append(comments, r.Comment)
	}
	if diff := cmp.Diff([]string{"nodeagent:a", "nodeagent:b", "nodeagent:c"}, comments); diff != "" {
		t.Errorf("rules after the failed batch (-want +got):\n%s", diff)
	}
}
