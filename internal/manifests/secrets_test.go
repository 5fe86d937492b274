package manifests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func requiredSecrets(t *testing.T, set Set) []SecretNeed {
	t.Helper()
	needs, err := RequiredSecrets(homelab(t), set.Objects())
	if err != nil {
		t.Fatal(err)
	}
	return needs
}

// summary is one line per need: the Secret, its role, source, keys and
// what it blocks.
func summary(needs []SecretNeed) []string {
	var out []string
	for _, n := range needs {
		opt := ""
		if n.Optional {
			opt = " optional"
		}
		out = append(out, fmt.Sprintf("%s role=%s %s keys=%s blocks=%s%s", n, n.Role, n.Source,
			strings.Join(n.Keys, ","), strings.Join(n.Blocks, ","), opt))
	}
	return out
}

// The built-in homelab needs its four Secrets, each with its role, found
// from the rendered objects.
func TestRequiredSecretsOfTheHomelab(t *testing.T) {
	got := summary(requiredSecrets(t, render(t, homelab(t))))
	want := []string{
		"backup/restic-b2 role=restic-b2 external keys=AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,RESTIC_PASSWORD,RESTIC_REPOSITORY blocks=CronJob/restic-backup",
		"cert-manager/homelab-ca role=issuer-ca external keys=tls.crt,tls.key blocks=ClusterIssuer/homelab-ca",
		"immich/immich-postgres role=immich-postgres generated keys=password blocks=CronJob/postgres-backup,Deployment/immich-server,StatefulSet/immich-postgres",
		"monitoring/beszel-agent role=beszel-agent external keys=KEY blocks=DaemonSet/beszel-agent",
		"network/pihole role=pihole generated keys=password blocks=StatefulSet/pihole",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("needs (-want +got):\n%s", diff)
	}
}

// The roles follow the referencing workload, not the Secret's name: a
// renamed Secret keeps its role; a disabled workload needs nothing; a Let's
// Encrypt issuer needs no CA.
func TestRequiredSecretsFollowTheConfig(t *testing.T) {
	c := homelab(t)
	w := c.Workloads["immich-postgres"]
	w.SecretName = "db"
	c.Workloads["immich-postgres"] = w
	for _, name := range []string{"restic-backup", "beszel-agent"} {
		w := c.Workloads[name]
		w.Enabled = new(bool)
		c.Workloads[name] = w
	}
	c.Platform.CertManager.Issuer.Type = "letsencrypt"
	c.Platform.CertManager.Issuer.Email = "me@example.org"
	needs, err := RequiredSecrets(c, render(t, c).Objects())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		// postgres-backup names its own Secret in the homelab: it
		// keeps immich-postgres, which no longer matches the database's.
		"immich/db role=immich-postgres generated keys=password blocks=Deployment/immich-server,StatefulSet/immich-postgres",
		"immich/immich-postgres role= external keys=password blocks=CronJob/postgres-backup",
		"network/pihole role=pihole generated keys=password blocks=StatefulSet/pihole",
	}
	if diff := cmp.Diff(want, summary(needs)); diff != "" {
		t.Errorf("needs (-want +got):\n%s", diff)
	}
}

// Any reference a later change adds is found: beside pihole's own password
// (generated), a projected volume, an optional envFrom, an init
// container's env, and a Secret volume with items.
func TestRequiredSecretsFindEveryReference(t *testing.T) {
	set := render(t, homelab(t))
	for i, o := range set {
		if o.Key() != "StatefulSet/network/pihole" {
			continue
		}
		spec := podSpecOf(t, o)
		spec.InitContainers = []corev1.Container{{Name: "init", Env: []corev1.EnvVar{secretEnv("TOKEN", "init-token", "token")}}}
		spec.Volumes = append(spec.Volumes,
			corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "tls-bundle"}}},
			}}}},
			corev1.Volume{Name: "keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "ssh-keys", Items: []corev1.KeyToPath{{Key: "id_ed25519", Path: "key"}},
			}}})
		spec.Containers[0].EnvFrom = append(spec.Containers[0].EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "extra-env"}, Optional: ptr.To(true)}})
		setPodSpec(t, set[i], spec)
	}
	var got []string
	for _, line := range summary(requiredSecrets(t, set)) {
		if strings.HasPrefix(line, "network/") {
			got = append(got, line)
		}
	}
	want := []string{
		"network/extra-env role= external keys= blocks=StatefulSet/pihole optional",
		"network/init-token role= external keys=token blocks=StatefulSet/pihole",
		"network/pihole role=pihole generated keys=password blocks=StatefulSet/pihole",
		"network/ssh-keys role= external keys=id_ed25519 blocks=StatefulSet/pihole",
		"network/tls-bundle role= external keys= blocks=StatefulSet/pihole",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("needs (-want +got):\n%s", diff)
	}
}

func podSpecOf(t *testing.T, o Object) corev1.PodSpec {
	t.Helper()
	var tmpl corev1.PodTemplateSpec
	raw := o.Object.Object["spec"].(map[string]any)["template"].(map[string]any)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl.Spec
}

func setPodSpec(t *testing.T, o Object, spec corev1.PodSpec) {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: o.Object.GetLabels()}, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	o.Object.Object["spec"].(map[string]any)["template"] = m
}

// The how-tos carry placeholders only, go through kubeseal when the cluster
// runs sealed-secrets, and never put a generated value into argv.
func TestSecretHowTos(t *testing.T) {
	byName := map[string]SecretNeed{}
	for _, n := range requiredSecrets(t, render(t, homelab(t))) {
		byName[n.Name] = n
	}
	want := map[string]string{
		"restic-b2":       "kubectl -n backup create secret generic restic-b2 --from-env-file=<file> --dry-run=client -o yaml | kubeseal -o yaml > restic-b2.sealed.yaml && kubectl apply -f restic-b2.sealed.yaml",
		"homelab-ca":      "kubectl -n cert-manager create secret tls homelab-ca --cert=<ca.crt> --key=<ca.key> --dry-run=client -o yaml | kubeseal -o yaml > homelab-ca.sealed.yaml && kubectl apply -f homelab-ca.sealed.yaml",
		"beszel-agent":    "kubectl -n monitoring create secret generic beszel-agent --from-literal=KEY='<hub public key>' --dry-run=client -o yaml | kubeseal -o yaml > beszel-agent.sealed.yaml && kubectl apply -f beszel-agent.sealed.yaml",
		"immich-postgres": "openssl rand -hex 32 | tr -d '\\n' | kubectl -n immich create secret generic immich-postgres --from-file=password=/dev/stdin --dry-run=client -o yaml | kubeseal -o yaml > immich-postgres.sealed.yaml && kubectl apply -f immich-postgres.sealed.yaml",
	}
	for name, cmd := range want {
		if got := byName[name].Create; got != cmd {
			t.Errorf("%s: create\n %s\nwant\n %s", name, got, cmd)
		}
	}
	c := homelab(t)
	c.Platform.SealedSecrets.Enabled = new(bool)
	needs, err := RequiredSecrets(c, render(t, c).Objects())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range needs {
		if strings.Contains(n.Create, "kubeseal") {
			t.Errorf("%s: kubeseal without sealed-secrets: %s", n, n.Create)
		}
	}
}

// A Secret without a needed key is missing, naming the key; an absent
// generated one will be generated, not missing.
func TestAssessSecrets(t *testing.T) {
	needs := requiredSecrets(t, render(t, homelab(t)))
	live := map[string][]string{
		"backup/restic-b2":         {"RESTIC_PASSWORD", "RESTIC_REPOSITORY", "AWS_ACCESS_KEY_ID"},
		"cert-manager/homelab-ca":  {"tls.crt", "tls.key"},
		"monitoring/beszel-agent:": {"KEY"}, // another name: absent
	}
	var got []string
	for _, s := range AssessSecrets(needs, live) {
		got = append(got, s.String()+" "+s.State+" "+s.Problem())
	}
	want := []string{
		"backup/restic-b2 missing backup/restic-b2 has no key AWS_SECRET_ACCESS_KEY, blocks CronJob/restic-backup",
		"cert-manager/homelab-ca present ",
		"immich/immich-postgres will be generated ",
		"monitoring/beszel-agent missing monitoring/beszel-agent missing, blocks DaemonSet/beszel-agent",
		"network/pihole will be generated ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// A Secret the objects bring along (a SealedSecret of the overlay) is never
// generated: its controller would refuse to take a generated one over.
func TestSealedSecretIsNotGenerated(t *testing.T) {
	objs := render(t, homelab(t)).Objects()
	sealed := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
		"metadata": map[string]any{"name": "immich-postgres", "namespace": "immich"}}}
	needs, err := RequiredSecrets(homelab(t), append(objs, sealed))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range needs {
		if n.String() == "immich/immich-postgres" && (n.Generated() || !strings.Contains(n.Hint, "SealedSecret/immich-postgres")) {
			t.Errorf("sealed immich-postgres: %+v, want external, from the SealedSecret", n)
		}
	}
}
