package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/manifests"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

func homelabSecretStates(t *testing.T, live map[string][]string) []manifests.SecretState {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifests.Render(&f.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	needs, err := manifests.RequiredSecrets(&f.Cluster, set.Objects())
	if err != nil {
		t.Fatal(err)
	}
	return manifests.AssessSecrets(needs, live)
}

// status counts the Secrets and gives each missing one (absent, or without
// a key) a line with what it blocks and how to create it; present ones and
// ones nodeagent generates take no line.
func TestStatusSecretLines(t *testing.T) {
	states := homelabSecretStates(t, map[string][]string{
		"cert-manager/homelab-ca": {"tls.crt", "tls.key"},
		"monitoring/beszel-agent": {"OTHER"},
	})
	var b strings.Builder
	writeSecrets(&b, states)
	want := `secrets   5 needed: 1 present, 2 will be generated, 2 MISSING
          - backup/restic-b2 missing, blocks CronJob/restic-backup
            fix: kubectl -n backup create secret generic restic-b2 --from-env-file=<file> --dry-run=client -o yaml | kubeseal -o yaml > restic-b2.sealed.yaml && kubectl apply -f restic-b2.sealed.yaml
                 # <file> (mode 0600, delete it after): RESTIC_REPOSITORY=s3:<B2 endpoint>/<bucket>, RESTIC_PASSWORD=…, AWS_ACCESS_KEY_ID=<keyID>, AWS_SECRET_ACCESS_KEY=<applicationKey>
          - monitoring/beszel-agent has no key KEY, blocks DaemonSet/beszel-agent
            fix: kubectl -n monitoring edit secret beszel-agent
                 # add KEY: nodeagent never changes an existing Secret
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(b.String(), "\n")); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len([]rune(line)) > 200 {
			t.Errorf("a line of %d characters:\n%s", len([]rune(line)), line)
		}
	}
}

// doctor on a joined server reads the Secrets from the apiserver: a missing
// one and one without its key are warnings with their fix; present and
// generated ones are not listed.
func TestDoctorListsMissingSecretsAgainstAPIServer(t *testing.T) {
	srv := apiserver.Start(t)
	ctx := t.Context()
	for _, ns := range []string{"cert-manager", "monitoring"} {
		if _, err := srv.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "cert-manager", Name: "homelab-ca"}, Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "beszel-agent"}, Data: map[string][]byte{"OTHER": []byte("x")}},
	} {
		if _, err := srv.Client().CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig, err := os.ReadFile(srv.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: homelabWithLocalRelease(t), kube.K3sKubeconfig: string(kubeconfig)}, 0o600)
	out, _ := runDoctor(t, root)
	for _, want := range []string{
		"WARN secrets backup/restic-b2 missing, blocks CronJob/restic-backup",
		"fix: kubectl -n backup create secret generic restic-b2 --from-env-file=<file>",
		"WARN secrets monitoring/beszel-agent has no key KEY, blocks DaemonSet/beszel-agent",
		"fix: kubectl -n monitoring edit secret beszel-agent # add KEY",
	} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"homelab-ca", "immich-postgres"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("doctor lists %s, which is present or generated:\n%s", unwanted, out)
		}
	}
}
