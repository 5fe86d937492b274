package kube_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nodeagent/nodeagent/internal/kube"
)

func ptr(s string) *string { return &s }

func TestComputeDiff(t *testing.T) {
	zigbee := kube.Desired{
		Labels:      map[string]string{"zigbee": "true"},
		Annotations: map[string]string{"nodeagent.dev/zigbee-device": "/dev/serial/by-id/x"},
	}
	owned := map[string]string{
		kube.OwnedLabelsAnnotation:      "zigbee",
		kube.OwnedAnnotationsAnnotation: "nodeagent.dev/zigbee-device",
		"nodeagent.dev/zigbee-device":   "/dev/serial/by-id/x",
	}
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		want        kube.Desired
		diff        kube.Diff
	}{
		{
			name: "fresh node gets labels and records ownership",
			want: zigbee,
			diff: kube.Diff{
				Changes: []kube.Change{
					{Kind: kube.KindLabel, Key: "zigbee", Op: kube.OpAdd, New: "true"},
					{Kind: kube.KindAnnotation, Key: "nodeagent.dev/zigbee-device", Op: kube.OpAdd, New: "/dev/serial/by-id/x"},
				},
				Labels: map[string]*string{"zigbee": ptr("true")},
				Annotations: map[string]*string{
					"nodeagent.dev/zigbee-device":   ptr("/dev/serial/by-id/x"),
					kube.OwnedLabelsAnnotation:      ptr("zigbee"),
					kube.OwnedAnnotationsAnnotation: ptr("nodeagent.dev/zigbee-device"),
				},
			},
		},
		{
			name:        "already as desired: empty diff",
			labels:      map[string]string{"zigbee": "true", "kubernetes.io/hostname": "pi4-2"},
			annotations: owned,
			want:        zigbee,
			diff:        kube.Diff{},
		},
		{
			name:        "unplug removes owned keys and the bookkeeping, keeps others",
			labels:      map[string]string{"zigbee": "true", "room": "attic"},
			annotations: owned,
			want:        kube.Desired{},
			diff: kube.Diff{
				Changes: []kube.Change{
					{Kind: kube.KindLabel, Key: "zigbee", Op: kube.OpRemove, Old: "true"},
					{Kind: kube.KindAnnotation, Key: "nodeagent.dev/zigbee-device", Op: kube.OpRemove, Old: "/dev/serial/by-id/x"},
				},
				Labels: map[string]*string{"zigbee": nil},
				Annotations: map[string]*string{
					"nodeagent.dev/zigbee-device":   nil,
					kube.OwnedLabelsAnnotation:      nil,
					kube.OwnedAnnotationsAnnotation: nil,
				},
			},
		},
		{
			name:   "hand-set label with another value is a conflict, left alone",
			labels: map[string]string{"zigbee": "false"},
			want:   kube.Desired{Labels: map[string]string{"zigbee": "true"}},
			diff: kube.Diff{
				Conflicts: []kube.Conflict{{Kind: kube.KindLabel, Key: "zigbee", Have: "false", Want: "true"}},
			},
		},
		{
			name:   "hand-set label with the wanted value is adopted",
			labels: map[string]string{"storage": "true"},
			want:   kube.Desired{Labels: map[string]string{"storage": "true"}},
			diff: kube.Diff{
				Changes:     []kube.Change{{Kind: kube.KindLabel, Key: "storage", Op: kube.OpAdopt, Old: "true", New: "true"}},
				Annotations: map[string]*string{kube.OwnedLabelsAnnotation: ptr("storage")},
			},
		},
		{
			name:        "owned label changed by hand is put back",
			labels:      map[string]string{"zigbee": "no"},
			annotations: map[string]string{kube.OwnedLabelsAnnotation: "zigbee"},
			want:        kube.Desired{Labels: map[string]string{"zigbee": "true"}},
			diff: kube.Diff{
				Changes: []kube.Change{{Kind: kube.KindLabel, Key: "zigbee", Op: kube.OpUpdate, Old: "no", New: "true"}},
				Labels:  map[string]*string{"zigbee": ptr("true")},
			},
		},
		{
			name:        "owned label removed by hand is forgotten",
			labels:      map[string]string{"storage": "true"},
			annotations: map[string]string{kube.OwnedLabelsAnnotation: "storage,zigbee"},
			want:        kube.Desired{Labels: map[string]string{"storage": "true"}},
			diff: kube.Diff{
				Changes:     []kube.Change{{Kind: kube.KindLabel, Key: "zigbee", Op: kube.OpForget}},
				Annotations: map[string]*string{kube.OwnedLabelsAnnotation: ptr("storage")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kube.ComputeDiff(tt.labels, tt.annotations, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.diff, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ComputeDiff (-want +got):\n%s", diff)
			}
			if got.Empty() != (len(tt.diff.Labels)+len(tt.diff.Annotations) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestComputeDiffRefusesBookkeepingKeys(t *testing.T) {
	_, err := kube.ComputeDiff(nil, nil, kube.Desired{Annotations: map[string]string{kube.OwnedLabelsAnnotation: "x"}})
	if err == nil {
		t.Error("desiring the owned-labels annotation was accepted")
	}
}

func TestMerge(t *testing.T) {
	static := kube.Desired{Labels: map[string]string{"role": "edge", "zigbee": "false"}}
	disk := kube.Desired{Labels: map[string]string{"storage": "true"}}
	usb := kube.Desired{Labels: map[string]string{"zigbee": "true"}, Annotations: map[string]string{"nodeagent.dev/zigbee-device": "/dev/x"}}
	got, clashes := kube.Merge(static, disk, usb)
	want := kube.Desired{
		Labels:      map[string]string{"role": "edge", "zigbee": "false", "storage": "true"},
		Annotations: map[string]string{"nodeagent.dev/zigbee-device": "/dev/x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]kube.Conflict{{Kind: kube.KindLabel, Key: "zigbee", Have: "false", Want: "true"}}, clashes); diff != "" {
		t.Errorf("clashes (-want +got):\n%s", diff)
	}
}
