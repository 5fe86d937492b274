package serverwork

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// backupsWork is pi5's work (the default cluster's backups node) with the
// controller's namespace set to ns, its HDD at /mnt/hd1 mounted per a
// mountinfo fixture, and its log observed.
func backupsWork(t *testing.T, srv *apiserver.Server, ns string, clock host.Clock) (*Work, *observer.ObservedLogs, host.Root) {
	t.Helper()
	p := workFor(t, srv.KubeconfigPath(), "pi5", clock)
	c := *p.cfg.Cluster
	c.Platform.SealedSecrets.Namespace = ns
	p.cfg.Cluster = &c
	mountHD1(t, p.cfg.Root)
	core, logs := observer.New(zapcore.DebugLevel)
	p.log = zap.New(core)
	return p, logs, p.cfg.Root
}

// mountHD1 writes a mount table with the root and /mnt/hd1 mounted.
func mountHD1(t *testing.T, root host.Root) {
	t.Helper()
	table := "22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw\n" +
		"40 22 8:1 / /mnt/hd1 rw,noatime shared:20 - ext4 /dev/sda1 rw\n"
	if err := os.MkdirAll(root.Path("/proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/proc/self/mountinfo"), []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deleteMarker removes the marker the tests share, now and at the end.
func deleteMarker(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	del := func() {
		err := client.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), SealedKeysMarker, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
	del()
	t.Cleanup(del)
}

// newKey creates a key Secret as the controller does, with random bytes
// the test then looks for in the logs.
func newKey(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{SealedKeyLabel: "active"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: randomPEM(t, "CERTIFICATE"), corev1.TLSPrivateKeyKey: randomPEM(t, "RSA PRIVATE KEY")},
	}
	out, err := client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func randomPEM(t *testing.T, kind string) []byte {
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return []byte("-----BEGIN " + kind + "-----\n" + base64.StdEncoding.EncodeToString(raw) + "\n-----END " + kind + "-----\n")
}

// assertNoKeyBytes fails when any key's bytes, raw or base64, are in text.
func assertNoKeyBytes(t *testing.T, text string, keys ...*corev1.Secret) {
	t.Helper()
	for _, k := range keys {
		for item, v := range k.Data {
			body := strings.Split(string(v), "\n")[1] // the random line
			if strings.Contains(text, body) || strings.Contains(text, base64.StdEncoding.EncodeToString(v)) {
				t.Errorf("%s of %s is in the log", item, k.Name)
			}
		}
	}
}

type fileState struct {
	mode     os.FileMode
	uid, ino uint64
	gid      uint64
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return fileState{mode: st.Mode(), uid: uint64(sys.Uid), gid: uint64(sys.Gid), ino: sys.Ino}
}

// Save writes each key Secret of the namespace (and no other Secret) to a
// root-only file, rewrites a file only when its key changed, and keeps the
// file of a key that left the cluster. No key byte reaches the log.
func TestSealedKeysSaveAgainstAPIServer(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the saved keys are root's")
	}
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deleteMarker(t, client)
	ns := srv.CreateNamespace(t)
	a := newKey(ctx, t, client, ns, "sealed-secrets-keyaaaaa")
	b := newKey(ctx, t, client, ns, "sealed-secrets-keybbbbb")
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "not-a-key"}, Data: map[string][]byte{"x": []byte("y")}}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, logs, root := backupsWork(t, srv, ns, host.RealClock{})
	dir := root.Path("/mnt/hd1/backups/" + SealedKeysDir)
	var statusText strings.Builder
	status := func(s string) { statusText.WriteString(s + "\n") }

	res, err := p.SealedKeys(ctx, status)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{a.Name, b.Name}, res.Saved.Written); diff != "" {
		t.Errorf("first save wrote (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if diff := cmp.Diff([]string{a.Name + ".yaml", b.Name + ".yaml"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if st := stateOf(t, dir); st.mode.Perm() != 0o700 || !st.mode.IsDir() || st.uid != 0 || st.gid != 0 {
		t.Errorf("key directory: %v uid %d gid %d, want a 0700 directory of root", st.mode, st.uid, st.gid)
	}
	fileA, fileB := filepath.Join(dir, a.Name+".yaml"), filepath.Join(dir, b.Name+".yaml")
	before := stateOf(t, fileA)
	if before.mode.Perm() != 0o600 || before.uid != 0 || before.gid != 0 {
		t.Errorf("key file: %v uid %d gid %d, want 0600 of root", before.mode, before.uid, before.gid)
	}
	saved, err := KeyStore{Dir: dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 2 || !cmp.Equal(saved[0].Data, a.Data) || !cmp.Equal(saved[1].Data, b.Data) {
		t.Errorf("saved keys do not read back as the cluster's")
	}

	// Unchanged keys: nothing written, the files are the same inodes.
	res, err = p.SealedKeys(ctx, status)
	if err != nil || len(res.Saved.Written) != 0 {
		t.Errorf("second save wrote %v (%v), want nothing", res.Saved.Written, err)
	}
	if after := stateOf(t, fileA); after.ino != before.ino {
		t.Errorf("unchanged key rewritten: inode %d → %d", before.ino, after.ino)
	}

	// A changed key (the controller renewed it under its name) is rewritten.
	b.Data[corev1.TLSPrivateKeyKey] = randomPEM(t, "RSA PRIVATE KEY")
	if b, err = client.CoreV1().Secrets(ns).Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err = p.SealedKeys(ctx, status); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{b.Name}, res.Saved.Written); diff != "" {
		t.Errorf("after a change wrote (-want +got):\n%s", diff)
	}

	// A key deleted from the cluster stays on disk, and is not put back
	// into a cluster that still holds the other.
	if err := client.CoreV1().Secrets(ns).Delete(ctx, a.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err = p.SealedKeys(ctx, status); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fileA); err != nil {
		t.Errorf("the file of a deleted key: %v, want it kept", err)
	}
	if len(res.PutBack.Created) != 0 || !cmp.Equal(res.PutBack.Missing, []string{a.Name}) {
		t.Errorf("put-back %+v, want none and %s missing", res.PutBack, a.Name)
	}
	if _, err := client.CoreV1().Secrets(ns).Get(ctx, a.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleted key: %v, want not found", err)
	}
	if _, err := os.Stat(fileB); err != nil {
		t.Error(err)
	}
	text := capturedText(logs) + statusText.String()
	if !strings.Contains(text, b.Name) {
		t.Errorf("the log does not name the keys:\n%s", text)
	}
	assertNoKeyBytes(t, text, a, b)
}

// A rebuilt cluster (none of the saved keys) gets them back, with the
// label and type the controller reads, before it runs; the marker records
// the check; a second run changes nothing. With a controller already
// running on a key of its own, the saved keys come back too and the
// controller is restarted; its own key is then saved beside them.
func TestSealedKeysPutBackAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deleteMarker(t, client)
	old := srv.CreateNamespace(t)
	a := newKey(ctx, t, client, old, "sealed-secrets-keyaaaaa")
	b := newKey(ctx, t, client, old, "sealed-secrets-keybbbbb")
	p, logs, _ := backupsWork(t, srv, old, host.RealClock{})
	if _, err := p.SealedKeys(ctx, func(string) {}); err != nil {
		t.Fatal(err)
	}
	deleteMarker(t, client)

	t.Run("empty cluster", func(t *testing.T) {
		rebuilt := srv.CreateNamespace(t)
		p.cfg.Cluster.Platform.SealedSecrets.Namespace = rebuilt
		res, err := p.SealedKeys(ctx, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{a.Name, b.Name}, res.PutBack.Created); diff != "" || res.PutBack.Restarted {
			t.Errorf("put back (-want +got):\n%s; restarted %v with no controller", diff, res.PutBack.Restarted)
		}
		live, err := ListKeys(ctx, client, rebuilt)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []*corev1.Secret{a, b} {
			if i >= len(live) {
				t.Fatalf("%d keys in the cluster, want 2", len(live))
			}
			got := live[i]
			if got.Name != want.Name || got.Labels[SealedKeyLabel] != "active" || got.Type != corev1.SecretTypeTLS || !cmp.Equal(got.Data, want.Data) {
				t.Errorf("key %s put back as %s, label %q, type %s, same data %v", want.Name, got.Name, got.Labels[SealedKeyLabel], got.Type, cmp.Equal(got.Data, want.Data))
			}
		}
		cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, SealedKeysMarker, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("marker: %v", err)
		}
		if cm.Data["checkedBy"] != "pi5" || cm.Data["putBack"] != "2" || cm.Data["saved"] != "2" {
			t.Errorf("marker data %v", cm.Data)
		}
		again, err := p.SealedKeys(ctx, func(string) {})
		if err != nil || len(again.PutBack.Created) != 0 || len(again.Saved.Written) != 0 {
			t.Errorf("second run: %+v (%v), want nothing done", again, err)
		}
	})

	t.Run("controller already running", func(t *testing.T) {
		deleteMarker(t, client)
		rebuilt := srv.CreateNamespace(t)
		p.cfg.Cluster.Platform.SealedSecrets.Namespace = rebuilt
		own := newKey(ctx, t, client, rebuilt, "sealed-secrets-keyzzzzz")
		if _, err := client.AppsV1().Deployments(rebuilt).Create(ctx, controllerDeployment(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := p.SealedKeys(ctx, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.PutBack.Created) != 2 || !res.PutBack.Restarted {
			t.Errorf("put back %v, restarted %v; want both keys and a restart", res.PutBack.Created, res.PutBack.Restarted)
		}
		d, err := client.AppsV1().Deployments(rebuilt).Get(ctx, SealedSecretsController, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Template.Annotations[restartedAtAnnotation] == "" {
			t.Errorf("controller pod template annotations %v, want %s", d.Spec.Template.Annotations, restartedAtAnnotation)
		}
		// The saved keys are rewritten too: their manifests now name this
		// namespace (the test's stand-in for a rebuilt kube-system).
		if diff := cmp.Diff([]string{a.Name, b.Name, own.Name}, res.Saved.Written); diff != "" {
			t.Errorf("saved after the put-back (-want +got):\n%s", diff)
		}
		assertNoKeyBytes(t, capturedText(logs), a, b, own)
	})
}

func controllerDeployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "sealed-secrets"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: SealedSecretsController},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "controller", Image: "bitnami/sealed-secrets-controller"}}},
			},
		},
	}
}

// An unmounted backups disk: nothing is read or written, and the error
// says so (the directory would be on the SD card).
func TestSealedKeysRefuseAnUnmountedDisk(t *testing.T) {
	c, n := defaultNode(t, "pi5")
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(root.Path("/proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/proc/self/mountinfo"), []byte("22 1 179:2 / / rw - ext4 /dev/mmcblk0p2 rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := New(Config{Log: zap.NewNop(), Cluster: c, Node: n, Root: root, Clock: host.RealClock{}})
	_, err := p.SealedKeys(context.Background(), func(string) {})
	if !errors.Is(err, ErrBackupsNotMounted) {
		t.Errorf("error %v, want ErrBackupsNotMounted", err)
	}
	if _, err := os.Stat(root.Path("/mnt/hd1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/mnt/hd1: %v, want nothing created", err)
	}
	other, n4 := defaultNode(t, "pi4-1")
	p = New(Config{Log: zap.NewNop(), Cluster: other, Node: n4, Root: root, Clock: host.RealClock{}})
	if _, err := p.SealedKeys(context.Background(), func(string) {}); !errors.Is(err, ErrNotBackupsNode) {
		t.Errorf("on pi4-1: %v, want ErrNotBackupsNode", err)
	}
}
