package manifests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The mount point of the disk restic backs up is a cluster-file string; the
// rendered CronJob's script must hand it to restic as one argument, and no
// character of it may run a command. The script runs in the real /bin/sh,
// with the env and command expanded as the kubelet does, and a restic on
// PATH that records its arguments.
func TestResticMountPointCannotRunCommands(t *testing.T) {
	for _, mp := range []string{
		`/mnt/my disk`,
		`/mnt/it's "here"`,
		`/mnt/$(touch pwned-subst)`,
		"/mnt/`touch pwned-backtick`",
		`/mnt/x;touch pwned-semicolon`,
		`/mnt/$(HOME)/$$/$RESTIC_CACHE_DIR`,
		`/mnt/x'; touch pwned-quote; echo '`,
	} {
		t.Run(mp, func(t *testing.T) {
			c := homelab(t)
			for i := range c.Nodes {
				for j := range c.Nodes[i].Disks {
					c.Nodes[i].Disks[j].MountPoint = mp
				}
			}
			ctr := resticContainer(t, render(t, c))
			if got := mountPath(ctr, "source"); got != mp {
				t.Errorf("source mounted at %q, want %q", got, mp)
			}
			dir := t.TempDir()
			args := runScript(t, dir, ctr)
			if want := []string{"backup", "--host", "homelab", mp}; !cmp.Equal(args, want) {
				t.Errorf("restic backup arguments (-want +got):\n%s", cmp.Diff(want, args))
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "pwned*")); len(left) > 0 {
				t.Errorf("the mount point ran a command: %v", left)
			}
		})
	}
}

func resticContainer(t *testing.T, set Set) corev1.Container {
	t.Helper()
	for _, o := range set {
		if o.Object.GetKind() == "CronJob" && o.Object.GetName() == "restic-backup" {
			var cj batchv1.CronJob
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object.Object, &cj); err != nil {
				t.Fatal(err)
			}
			return cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatal("no restic-backup CronJob rendered")
	return corev1.Container{}
}

func mountPath(ctr corev1.Container, volume string) string {
	for _, m := range ctr.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// runScript runs the container's command in dir with /bin/sh, a fake
// restic first on PATH, and returns the arguments of `restic backup`.
func runScript(t *testing.T, dir string, ctr corev1.Container) []string {
	t.Helper()
	bin, record := filepath.Join(dir, "bin"), filepath.Join(dir, "backup.args")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\nif [ \"$1\" = backup ]; then printf '%s\\0' \"$@\" > \"$TEST_RECORD\"; fi\n"
	if err := os.WriteFile(filepath.Join(bin, "restic"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	env := kubeletEnv(ctr.Env)
	var command []string
	for _, arg := range ctr.Command {
		command = append(command, kubeletExpand(arg, env))
	}
	cmd := exec.CommandContext(context.Background(), command[0], command[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "TEST_RECORD=" + record}
	for _, e := range ctr.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+env[e.Name])
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("restic backup did not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// kubeletEnv expands each env value with the variables defined before it,
// as the kubelet does (kubernetes pkg/kubelet/kubelet_pods.go makeEnvironmentVariables).
func kubeletEnv(vars []corev1.EnvVar) map[string]string {
	env := map[string]string{}
	for _, v := range vars {
		env[v.Name] = kubeletExpand(v.Value, env)
	}
	return env
}

// kubeletExpand follows kubernetes third_party/forked/golang/expansion/expand.go:
// $$ is a literal $, $(NAME) is NAME's value when NAME is defined and stays
// as written otherwise, any other $ is literal.
func kubeletExpand(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
