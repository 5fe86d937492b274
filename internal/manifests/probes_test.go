package manifests

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestEveryLongRunningContainerHasProbes: liveness and readiness on every
// container that is not a CronJob's, on a port the container declares.
func TestEveryLongRunningContainerHasProbes(t *testing.T) {
	for _, w := range workloadPods(t, render(t, homelab(t))) {
		if w.kind == "CronJob" {
			continue
		}
		for _, c := range w.spec.Containers {
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("%s/%s: liveness %v, readiness %v", w.app, c.Name, c.LivenessProbe != nil, c.ReadinessProbe != nil)
				continue
			}
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if port, ok := probePort(p); ok && !hasPort(c, port) {
					t.Errorf("%s/%s: a probe checks port %q the container does not declare", w.app, c.Name, port.String())
				}
			}
		}
	}
}

func probePort(p *corev1.Probe) (intstr.IntOrString, bool) {
	switch {
	case p == nil:
	case p.HTTPGet != nil:
		return p.HTTPGet.Port, true
	case p.TCPSocket != nil:
		return p.TCPSocket.Port, true
	}
	return intstr.IntOrString{}, false
}

func hasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func TestImmichServerProbes(t *testing.T) {
	var got corev1.Container
	for _, w := range workloadPods(t, render(t, homelab(t))) {
		if w.app == "immich-server" {
			got = w.spec.Containers[0]
		}
	}
	ping := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/api/server/ping", Port: intstr.FromString("http")}}
	want := []*corev1.Probe{
		{ProbeHandler: ping, PeriodSeconds: 20, FailureThreshold: 6, TimeoutSeconds: 5},
		{ProbeHandler: ping, PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 5},
		{ProbeHandler: ping, PeriodSeconds: 10, FailureThreshold: 60, TimeoutSeconds: 5},
	}
	if diff := cmp.Diff(want, []*corev1.Probe{got.LivenessProbe, got.ReadinessProbe, got.StartupProbe}); diff != "" {
		t.Errorf("immich-server liveness, readiness, startup (-want +got):\n%s", diff)
	}
}

// TestProbeCheckCanFail: a container without probes, or probing a port it
// does not have, is what the test above reports.
func TestProbeCheckCanFail(t *testing.T) {
	c := corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}
	if hasPort(c, intstr.FromString("admin")) || !hasPort(c, intstr.FromString("http")) || !hasPort(c, intstr.FromInt32(80)) {
		t.Error("hasPort does not tell declared from undeclared ports")
	}
	if withHealth(app{name: "restic-backup"}, c).LivenessProbe != nil {
		t.Error("a CronJob's container got a liveness probe")
	}
}
