package disk

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

func TestPlanGolden(t *testing.T) {
	n, _ := pi5Disk(t)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(Plan(n)))
	golden.Check(t, "plan-pi5.json", buf.Bytes())
}

func TestPlanWithObservedDevice(t *testing.T) {
	n, d := pi5Disk(t)
	devs := []Device{{Name: "sda1", Path: "/dev/sda1", Type: "ext4", Label: "hd1", UUID: "u-1"}}
	st := PlanWith(n, devs)
	var unit, mount string
	for _, a := range st.Actions {
		if a.File != nil {
			unit = a.File.Content
		}
		if len(a.Commands) > 0 && strings.HasPrefix(a.Commands[0], "mount ") {
			mount = a.Commands[0]
		}
	}
	if diff := cmp.Diff(string(UnitContent(d, "u-1")), unit); diff != "" {
		t.Errorf("planned unit (-want +got):\n%s", diff)
	}
	if want := "mount -t ext4 -o noatime /dev/sda1 /mnt/hd1"; mount != want {
		t.Errorf("planned mount = %q, want %q", mount, want)
	}
}

func TestPlanNoDisks(t *testing.T) {
	st := Plan(config.Node{Name: "pi4-1"})
	if len(st.Actions) != 0 || st.Summary != "no data disks on this node" {
		t.Errorf("Plan without disks = %+v", st)
	}
}
