// Package mountns runs a package's tests inside a private mount namespace
// when they run as root, so every mount a test makes dies with that
// namespace and the machine's own mount table is never touched.
package mountns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Env marks the copy of the test binary that runs inside the namespace.
const Env = "NODEAGENT_TEST_MOUNTNS"

// Main is a TestMain: as root, with unshare(1) installed, it re-runs the
// test binary under `unshare --mount --propagation private`; otherwise (and
// inside) it runs the tests.
func Main(m *testing.M) {
	if os.Getenv(Env) == "" && os.Geteuid() == 0 {
		if path, err := exec.LookPath("unshare"); err == nil {
			os.Exit(reexec(path))
		}
	}
	os.Exit(m.Run())
}

// Inside reports whether the tests run in the private namespace.
func Inside() bool { return os.Getenv(Env) != "" }

func reexec(unshare string) int {
	args := append([]string{"--mount", "--propagation", "private", os.Args[0]}, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), Env+"=1")
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "running tests under unshare: %v\n", err)
	return 1
}
