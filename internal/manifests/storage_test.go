package manifests

import (
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nodeagent/nodeagent/internal/config"
)

// workloadPod is the pod template of one rendered workload object and the
// names of its claim templates (StatefulSets).
type workloadPod struct {
	app, kind string
	spec      corev1.PodSpec
	templates []string
}

func workloadPods(t *testing.T, set Set) []workloadPod {
	t.Helper()
	var out []workloadPod
	conv := runtime.DefaultUnstructuredConverter
	for _, u := range set.Phase(PhaseWorkloads) {
		w := workloadPod{app: u.GetLabels()[LabelName], kind: u.GetKind()}
		var err error
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			err = conv.FromUnstructured(u.Object, &d)
			w.spec = d.Spec.Template.Spec
		case "StatefulSet":
			var s appsv1.StatefulSet
			err = conv.FromUnstructured(u.Object, &s)
			w.spec = s.Spec.Template.Spec
			for _, c := range s.Spec.VolumeClaimTemplates {
				w.templates = append(w.templates, c.Name)
			}
		case "DaemonSet":
			var d appsv1.DaemonSet
			err = conv.FromUnstructured(u.Object, &d)
			w.spec = d.Spec.Template.Spec
		case "CronJob":
			var c batchv1.CronJob
			err = conv.FromUnstructured(u.Object, &c)
			w.spec = c.Spec.JobTemplate.Spec.Template.Spec
		default:
			continue
		}
		if err != nil {
			t.Fatalf("reading %s: %v", Key(u), err)
		}
		out = append(out, w)
	}
	return out
}

// storageViolations lists every emptyDir mount not in ephemeralPaths and
// every state path not on a claim (or claim template).
func storageViolations(pods []workloadPod) []string {
	var out []string
	for _, w := range pods {
		persistent := map[string]bool{}
		empty := map[string]bool{}
		for _, v := range w.spec.Volumes {
			persistent[v.Name] = v.PersistentVolumeClaim != nil
			empty[v.Name] = v.EmptyDir != nil
		}
		for _, name := range w.templates {
			persistent[name] = true
		}
		mounted := map[string]bool{}
		for _, c := range w.spec.Containers {
			for _, m := range c.VolumeMounts {
				if persistent[m.Name] {
					mounted[m.MountPath] = true
				}
				if _, ok := ephemeralPaths[w.app][m.MountPath]; empty[m.Name] && !ok {
					out = append(out, w.app+": emptyDir at "+m.MountPath+" is not in ephemeralPaths")
				}
			}
		}
		for _, p := range statePaths[w.app] {
			if !mounted[p] {
				out = append(out, w.app+": state path "+p+" is not on a persistent volume")
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestNoStateInEmptyDir(t *testing.T) {
	withoutStorage := homelab(t)
	for name, w := range withoutStorage.Workloads {
		w.Storage = ""
		withoutStorage.Workloads[name] = w
	}
	for name, c := range map[string]*config.Cluster{"built-in": homelab(t), "storage omitted": withoutStorage} {
		t.Run(name, func(t *testing.T) {
			pods := workloadPods(t, render(t, c))
			if got := storageViolations(pods); len(got) > 0 {
				t.Errorf("state that a restart would lose:\n%v", got)
			}
			var apps []string
			for _, w := range pods {
				apps = append(apps, w.app)
			}
			for app := range statePaths {
				if !slices.Contains(apps, app) {
					t.Errorf("%s has state paths but was not rendered: the check above saw nothing of it", app)
				}
			}
		})
	}
	// The check catches the old fallback: pihole's /etc/pihole and beszel's
	// data in an emptyDir, and a scratch dir nobody listed.
	t.Run("catches an emptyDir", func(t *testing.T) {
		pods := workloadPods(t, render(t, homelab(t)))
		for i := range pods {
			switch pods[i].app {
			case "pihole":
				pods[i].templates = nil
				pods[i].spec.Volumes = append(pods[i].spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			case "beszel":
				for j, v := range pods[i].spec.Volumes {
					if v.Name == "data" {
						pods[i].spec.Volumes[j].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
					}
				}
			case "immich-server":
				pods[i].spec.Volumes = append(pods[i].spec.Volumes, corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
				pods[i].spec.Containers[0].VolumeMounts = append(pods[i].spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: "/usr/src/app/upload"})
			}
		}
		want := []string{
			"beszel: emptyDir at /beszel_data is not in ephemeralPaths",
			"beszel: state path /beszel_data is not on a persistent volume",
			"immich-server: emptyDir at /usr/src/app/upload is not in ephemeralPaths",
			"pihole: emptyDir at /etc/pihole is not in ephemeralPaths",
			"pihole: state path /etc/pihole is not on a persistent volume",
		}
		if diff := cmp.Diff(want, storageViolations(pods)); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
	})
}

// TestRenderedKindIsTheConfigKind: the capacity analysis and the firewall
// read the kind from config's table; the renderer must agree with it.
func TestRenderedKindIsTheConfigKind(t *testing.T) {
	for _, w := range workloadPods(t, render(t, homelab(t))) {
		spec, _ := config.LookupWorkload(w.app)
		if string(spec.Kind) != w.kind {
			t.Errorf("%s is rendered as a %s, config says %s", w.app, w.kind, spec.Kind)
		}
	}
}

// TestReplicatedStateIsPerReplica: npm and pihole keep two replicas, each
// with its own local-path volume, started in parallel.
func TestReplicatedStateIsPerReplica(t *testing.T) {
	for _, u := range render(t, homelab(t)).Phase(PhaseWorkloads) {
		name := u.GetLabels()[LabelName]
		if u.GetKind() != "StatefulSet" || (name != "pihole" && name != "nginx-proxy-manager") {
			continue
		}
		var s appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
			t.Fatal(err)
		}
		if *s.Spec.Replicas != 2 || s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || len(s.Spec.VolumeClaimTemplates) != 1 ||
			*s.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != LocalPathClass || s.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
			t.Errorf("%s: replicas %d, policy %q, claim templates %d: want 2 Parallel replicas with one local-path template and anti-affinity",
				name, *s.Spec.Replicas, s.Spec.PodManagementPolicy, len(s.Spec.VolumeClaimTemplates))
		}
	}
}
