// Package host is the seam between nodeagent and the machine it runs on: a
// Root that every path to /sys, /dev, /proc, /etc and /var goes through, one
// Runner for every command, a Clock, crash-safe file writes, and reads of
// files only root could have written (trust.go). Tests point a Root at a
// temporary tree and use the fakes beside these types.
package host

import "path/filepath"

// Root resolves absolute host paths under a prefix ("/" on a real node).
type Root struct {
	prefix string
}

// NewRoot returns a Root at prefix; an empty prefix means "/".
func NewRoot(prefix string) Root {
	if prefix == "" {
		prefix = "/"
	}
	return Root{prefix: filepath.Clean(prefix)}
}

// Path maps an absolute host path such as "/sys/bus/usb" to its location
// under the root.
func (r Root) Path(hostPath string) string {
	if r.prefix == "" || r.prefix == "/" {
		return filepath.Clean("/" + hostPath)
	}
	return filepath.Join(r.prefix, hostPath)
}

// Prefix is the directory the root is at.
func (r Root) Prefix() string {
	if r.prefix == "" {
		return "/"
	}
	return r.prefix
}

// IsHost reports whether the root is the real "/".
func (r Root) IsHost() bool { return r.Prefix() == "/" }
