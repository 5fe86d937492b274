// Package e2e holds the integration tests of USB hotplug driving node labels
// through a real kube-apiserver: usb.Watcher on a fixture tree, feeding
// kube.LabelReconciler, as the agent wires them. It has no code of its own;
// living apart keeps internal/usb and internal/kube from importing each
// other even in tests.
package e2e
