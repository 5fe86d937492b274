package systemd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// JournalTail returns the last n journal lines of the unit (messages only,
// oldest first), read with journalctl through the Runner.
func (m *Manager) JournalTail(ctx context.Context, name string, n int) ([]string, error) {
	args := journalArgs(m.root, name, n)
	out, err := m.runner.Run(ctx, "journalctl", args...)
	if err != nil {
		return nil, fmt.Errorf("reading journal of %s: %w", name, err)
	}
	return splitLines(string(out)), nil
}

// journalArgs builds the journalctl command line. For a root other than
// "/" (a container seen from the host, an image) --root reads that tree's
// persistent and runtime journals instead of the host's.
func journalArgs(root host.Root, name string, n int) []string {
	args := []string{"-u", name, "-n", strconv.Itoa(n), "-o", "cat", "--no-pager", "-q"}
	if !root.IsHost() {
		args = append(args, "--root", root.Prefix())
	}
	return args
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
