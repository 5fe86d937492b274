package usb_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/usb"
)

func TestPlanStepPi42ShowsZigbee(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := f.Node("pi4-2")
	if !ok {
		t.Fatal("built-in homelab has no pi4-2")
	}
	step := usb.PlanStep(f.USBRules(), n.USB)
	want := []string{"rule zigbee (expected on this node): while a matching device is plugged in, label zigbee=true and annotate nodeagent.dev/zigbee-device, nodeagent.dev/zigbee-description"}
	var got []string
	for _, a := range step.Actions {
		got = append(got, a.Description)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	notes := strings.Join(step.Notes, "\n")
	for _, s := range []string{
		`rule zigbee matches Sonoff ZBDongle-P (CC2652P) (10c4:ea60 product "*Sonoff Zigbee 3.0 USB Dongle Plus*")`,
		"rule zigbee matches ConBee II (1cf1:0030)",
	} {
		if !strings.Contains(notes, s) {
			t.Errorf("notes lack %q:\n%s", s, notes)
		}
	}
	if !strings.Contains(step.Summary, "expected on this node: zigbee") {
		t.Errorf("summary = %q", step.Summary)
	}
}

func TestPlanStepOtherNodeExpectsNothing(t *testing.T) {
	rules := []config.USBRule{{Name: "ups", Labels: map[string]string{"ups": "true"}, Match: []config.USBMatch{{VendorID: "051d", ProductID: "0002"}}}}
	step := usb.PlanStep(rules, []string{"zigbee"})
	want := usb.PlanStep(rules, nil)
	if strings.Contains(want.Actions[0].Description, "expected") {
		t.Errorf("rule marked expected without being listed: %q", want.Actions[0].Description)
	}
	if diff := cmp.Diff([]string{
		"rule ups matches 051d:0002",
		"expected rule zigbee is not defined: nothing can match it",
	}, step.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
