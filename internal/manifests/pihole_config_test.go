package manifests

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nodeagent/nodeagent/internal/config"
)

// piholeObjects returns the rendered pihole ConfigMap and StatefulSet.
func piholeObjects(t *testing.T, set Set) (corev1.ConfigMap, appsv1.StatefulSet) {
	t.Helper()
	var cm corev1.ConfigMap
	var d appsv1.StatefulSet
	for _, o := range set {
		var into any
		switch o.Key() {
		case "ConfigMap/network/pihole":
			into = &cm
		case "StatefulSet/network/pihole":
			into = &d
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object.Object, into); err != nil {
			t.Fatal(err)
		}
	}
	if cm.Name == "" || d.Name == "" {
		t.Fatal("no pihole ConfigMap or StatefulSet rendered")
	}
	return cm, d
}

func TestPiholeEnvHomelab(t *testing.T) {
	cm, _ := piholeObjects(t, render(t, homelab(t)))
	want := map[string]string{
		"FTLCONF_dns_domain":        "home",
		"FTLCONF_dns_domain_name":   "home",
		"FTLCONF_dns_listeningMode": "all",
		"FTLCONF_dns_upstreams":     "1.1.1.1;9.9.9.9",
		"FTLCONF_dns_hosts": "10.0.0.104 beszel.home;10.0.0.103 filebrowser.home;10.0.0.102 home-assistant.home;" +
			"10.0.0.101 immich.home;10.0.0.100 nginx-proxy-manager.home;10.0.0.53 pihole.home",
	}
	if diff := cmp.Diff(want, cm.Data); diff != "" {
		t.Errorf("pihole ConfigMap (-want +got):\n%s", diff)
	}
}

// A cluster file for another LAN gives that LAN's records, through the
// same parse and validation as a user's file.
func TestPiholeRecordsFollowTheLAN(t *testing.T) {
	text := strings.ReplaceAll(string(config.DefaultYAML()), "10.0.0.", "192.168.1.")
	text = strings.Replace(text, "lanCIDR: 10.0.0.0/24", "lanCIDR: 192.168.1.0/24", 1)
	text = strings.Replace(text, "sshSources: [10.0.0.0/24]", "sshSources: [192.168.1.0/24]", 1)
	text = strings.Replace(text, "records: {}", "records: {nas: 192.168.1.20, printer.lan: 192.168.1.30}", 1)
	f, err := config.Parse("lan.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := piholeObjects(t, render(t, &f.Cluster))
	got := strings.Split(cm.Data["FTLCONF_dns_hosts"], ";")
	want := []string{"192.168.1.104 beszel.home", "192.168.1.103 filebrowser.home", "192.168.1.102 home-assistant.home",
		"192.168.1.101 immich.home", "192.168.1.20 nas.home", "192.168.1.100 nginx-proxy-manager.home",
		"192.168.1.53 pihole.home", "192.168.1.30 printer.lan"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dns.hosts (-want +got):\n%s", diff)
	}
}

// Both replicas come from one pod template whose only configuration is the
// shared ConfigMap and the password Secret: no variable can differ between
// them, and a changed setting changes the template, which replaces both.
func TestPiholeReplicasShareOneConfig(t *testing.T) {
	c := homelab(t)
	cm, d := piholeObjects(t, render(t, c))
	if *d.Spec.Replicas != 2 {
		t.Fatalf("replicas = %d, want 2", *d.Spec.Replicas)
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	wantFrom := []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}}
	if diff := cmp.Diff(wantFrom, ctr.EnvFrom); diff != "" {
		t.Errorf("envFrom (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{secretEnv("FTLCONF_webserver_api_password", "pihole", "password")}
	if diff := cmp.Diff(wantEnv, ctr.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	hash := d.Spec.Template.Annotations[ConfigHashAnnotation]
	if hash != dataHash(cm.Data) {
		t.Errorf("template hash %q is not the ConfigMap's %q", hash, dataHash(cm.Data))
	}

	c.DNS.Settings = map[string]string{"dns.dnssec": "true"}
	cm2, d2 := piholeObjects(t, render(t, c))
	if cm2.Data["FTLCONF_dns_dnssec"] != "true" {
		t.Errorf("setting dns.dnssec rendered as %v", cm2.Data)
	}
	if d2.Spec.Template.Annotations[ConfigHashAnnotation] == hash {
		t.Error("a changed setting left the pod template's hash as it was")
	}
}

func TestPiholeNameOverride(t *testing.T) {
	c := homelab(t)
	c.DNS.Names = map[string]string{"immich-server": "photos", "nginx-proxy-manager": "proxy.example.org"}
	hosts := PiholeEnv(c)["FTLCONF_dns_hosts"]
	for _, want := range []string{"10.0.0.101 photos.home", "10.0.0.100 proxy.example.org"} {
		if !strings.Contains(";"+hosts+";", ";"+want+";") {
			t.Errorf("dns.hosts %q lacks %q", hosts, want)
		}
	}
	if strings.Contains(hosts, "immich.home") {
		t.Errorf("dns.hosts %q still has the default name", hosts)
	}
}
