package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// NodeFile names this machine's node for the service, which takes no
// --node: for a Pi whose hostname and addresses do not tell (still called
// raspberrypi, on a DHCP address the cluster file does not list).
const NodeFile = "/etc/nodeagent/node"

// ReadNodeFile returns the node name in the file at path: its one
// non-comment line. A missing file is no name.
func ReadNodeFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the node name: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%s: no node name in it (one line: the node's name in the cluster file)", path)
	case 1:
		if strings.ContainsAny(names[0], " \t") {
			return "", fmt.Errorf("%s: %q is not a node name (one line: the node's name in the cluster file)", path, names[0])
		}
		return names[0], nil
	}
	return "", fmt.Errorf("%s: %d lines with names, want one (the node's name in the cluster file)", path, len(names))
}
