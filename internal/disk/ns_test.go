package disk

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/nodeagent/nodeagent/test/harness/mountns"
)

func TestMain(m *testing.M) { mountns.Main(m) }

// needRealDisks skips (or, under CI, fails) a test that needs root, a
// private mount namespace and the util-linux tools.
func needRealDisks(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if !mountns.Inside() {
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
