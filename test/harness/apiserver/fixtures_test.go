package apiserver_test

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pihole is a Deployment with the defaultable fields left empty.
func pihole(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "pihole"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pihole", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "pihole", Image: "pihole/pihole:2025.03.0"}},
				},
			},
		},
	}
}

// deploymentDefaults are fields the apiserver fills in on create.
type deploymentDefaults struct {
	Strategy             string
	RevisionHistoryLimit int32
	ProgressDeadline     int32
	PullPolicy           string
}

func defaultsOf(d *appsv1.Deployment) deploymentDefaults {
	var got deploymentDefaults
	got.Strategy = string(d.Spec.Strategy.Type)
	if d.Spec.RevisionHistoryLimit != nil {
		got.RevisionHistoryLimit = *d.Spec.RevisionHistoryLimit
	}
	if d.Spec.ProgressDeadlineSeconds != nil {
		got.ProgressDeadline = *d.Spec.ProgressDeadlineSeconds
	}
	if c := d.Spec.Template.Spec.Containers; len(c) > 0 {
		got.PullPolicy = string(c[0].ImagePullPolicy)
	}
	return got
}
