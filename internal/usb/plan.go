package usb

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// PlanStep describes the USB rules a node watches, for `nodeagent plan`.
// Every node watches every rule (labels follow a dongle to whichever node it
// is plugged into); expected names the rules whose devices the cluster file
// places on this node (node.usb), which the plan marks. The plan is computed
// offline, so it says what would be labelled, not what is plugged in now.
func PlanStep(rules []config.USBRule, expected []string) plan.Step {
	step := plan.Step{
		Name: "usb",
		Summary: fmt.Sprintf("watch %s, %s for %d USB rule(s); expected on this node: %s",
			serialByID, sysUSBDevices, len(rules), orNone(expected)),
	}
	for _, r := range rules {
		marker := ""
		if slices.Contains(expected, r.Name) {
			marker = " (expected on this node)"
		}
		step.Actions = append(step.Actions, plan.Action{
			Description: fmt.Sprintf("rule %s%s: while a matching device is plugged in, label %s and annotate %s, %s",
				r.Name, marker, formatMap(r.Labels), DeviceAnnotation(r.Name), DescriptionAnnotation(r.Name)),
		})
		for _, m := range r.Match {
			step.Notes = append(step.Notes, fmt.Sprintf("rule %s matches %s", r.Name, describeMatch(m)))
		}
	}
	for _, name := range expected {
		if !slices.ContainsFunc(rules, func(r config.USBRule) bool { return r.Name == name }) {
			step.Notes = append(step.Notes, fmt.Sprintf("expected rule %s is not defined: nothing can match it", name))
		}
	}
	return step
}

func describeMatch(m config.USBMatch) string {
	parts := []string{m.VendorID + ":" + m.ProductID}
	for _, f := range []struct{ name, glob string }{{"manufacturer", m.Manufacturer}, {"product", m.Product}, {"serial", m.Serial}} {
		if f.glob != "" {
			parts = append(parts, fmt.Sprintf("%s %q", f.name, f.glob))
		}
	}
	s := strings.Join(parts, " ")
	if m.Description != "" {
		s = m.Description + " (" + s + ")"
	}
	return s
}

func formatMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
