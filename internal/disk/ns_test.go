package disk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// nsEnv marks the copy of the test binary that runs inside a private mount
// namespace: every mount a test makes dies with that namespace, so the
// machine's own mount table is never touched.
const nsEnv = "NODEAGENT_DISK_MOUNTNS"

func TestMain(m *testing.M) {
	if os.Getenv(nsEnv) == "" && os.Geteuid() == 0 {
		if path, err := exec.LookPath("unshare"); err == nil {
			os.Exit(reexecInNamespace(path))
		}
	}
	os.Exit(m.Run())
}

func reexecInNamespace(unshare string) int {
	args := append([]string{"--mount", "--propagation", "private", os.Args[0]}, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nsEnv+"=1")
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

// needRealDisks skips (or, under CI, fails) a test that needs root, a
// private mount namespace and the util-linux tools.
func needRealDisks(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Getenv(nsEnv) == "" {
		missing = append(missing, "a private mount namespace (run as root with unshare installed)")
	}
	for _, tool := range append([]string{"losetup", "blkid", "mount", "umount", "mkfs.ext4", "truncate"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		missing = append(missing, "/dev/loop-control")
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("needs %v (Debian: util-linux mount fdisk e2fsprogs dosfstools)", missing)
	if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
