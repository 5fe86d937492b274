package manifests

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nodeagent/nodeagent/internal/config"
)

// podSpecPaths is where each kind of workload keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// objectSecretRefs lists u's references to Secrets.
func objectSecretRefs(c *config.Cluster, u *unstructured.Unstructured) ([]secretRef, error) {
	from := u.GetKind() + "/" + u.GetName()
	if u.GetKind() == "ClusterIssuer" {
		name, ok, _ := unstructured.NestedString(u.Object, "spec", "ca", "secretName")
		if !ok || name == "" {
			return nil, nil
		}
		// cert-manager reads a ClusterIssuer's Secrets from its cluster
		// resource namespace, the chart's namespace by default.
		return []secretRef{{namespace: c.Platform.CertManager.Namespace, name: name, from: from, issuer: true}}, nil
	}
	path, ok := podSpecPaths[u.GetKind()]
	if !ok {
		return nil, nil
	}
	raw, found, err := unstructured.NestedMap(u.Object, path...)
	if err != nil || !found {
		return nil, err
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return nil, fmt.Errorf("reading the pod spec of %s: %w", Key(u), err)
	}
	workload := u.GetLabels()[LabelName]
	if workload == "" {
		workload = u.GetName()
	}
	ns := u.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	var refs []secretRef
	add := func(name, key string, optional *bool) {
		if name != "" {
			refs = append(refs, secretRef{namespace: ns, name: name, key: key, optional: optional != nil && *optional, from: from, workload: workload})
		}
	}
	for _, ct := range containers(spec) {
		for _, e := range ct.EnvFrom {
			if s := e.SecretRef; s != nil {
				add(s.Name, "", s.Optional)
			}
		}
		for _, e := range ct.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				s := e.ValueFrom.SecretKeyRef
				add(s.Name, s.Key, s.Optional)
			}
		}
	}
	for _, v := range spec.Volumes {
		if s := v.Secret; s != nil {
			addItems(add, s.SecretName, s.Items, s.Optional)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if s := src.Secret; s != nil {
					addItems(add, s.Name, s.Items, s.Optional)
				}
			}
		}
	}
	return refs, nil
}

// addItems adds a secret volume: its listed keys, or the whole Secret.
func addItems(add func(name, key string, optional *bool), name string, items []corev1.KeyToPath, optional *bool) {
	if len(items) == 0 {
		add(name, "", optional)
	}
	for _, it := range items {
		add(name, it.Key, optional)
	}
}

func containers(spec corev1.PodSpec) []corev1.Container {
	out := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, e := range spec.EphemeralContainers {
		out = append(out, corev1.Container(e.EphemeralContainerCommon))
	}
	return out
}
