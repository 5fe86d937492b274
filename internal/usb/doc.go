// Package usb detects the USB devices of a node and turns them into node
// labels that follow the hardware.
//
// The work is split as the rest of nodeagent is: Scan observes sysfs and
// /dev under a host.Root, Match is the pure decision (devices + rules ->
// labels, annotations and which device matched which rule), and Watcher
// re-runs both when a device comes or goes. Writing the labels is the job of
// internal/kube; this package never imports client-go (deps_test.go checks),
// so the agent wires the two together.
package usb
