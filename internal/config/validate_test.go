package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each file in testdata/bad names, in "# want:" comments, the errors it must
// produce (as printed: file:line: field: message, by prefix), and in
// "# not:" comments errors it must not produce.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) < 12 {
		t.Fatalf("want at least 12 bad files, got %d (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var wants, nots []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
				if n, ok := strings.CutPrefix(line, "# not: "); ok {
					nots = append(nots, n)
				}
			}
			if len(wants) == 0 {
				t.Fatal("file has no # want: lines")
			}
			_, err = Parse(filepath.Base(path), data)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want *Errors", err)
			}
			got := strings.Split(errs.Error(), "\n")
			for _, w := range wants {
				if !hasPrefixLine(got, w) {
					t.Errorf("missing error %q; got:\n%s", w, errs)
				}
			}
			for _, n := range nots {
				if hasPrefixLine(got, n) {
					t.Errorf("unwanted error %q; got:\n%s", n, errs)
				}
			}
		})
	}
}

func hasPrefixLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestSmallFileDefaults(t *testing.T) {
	f, err := Load("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"disable":         {strings.Join(f.K3s.Disable, ","), "servicelb,traefik"},
		"cluster cidr":    {f.K3s.ClusterCIDR, DefaultClusterCIDR},
		"role default":    {f.Nodes[0].Role, RoleServer},
		"agent role":      {f.Nodes[1].Role, RoleAgent},
		"ssh from lan":    {strings.Join(f.Firewall.SSHSources, ","), "192.168.50.0/24"},
		"join timeout":    {f.K3s.JoinTimeout.String(), "15m0s"},
		"upgrade timeout": {f.K3s.UpgradeTimeout.String(), "5m0s"},
		"issuer default":  {f.Platform.CertManager.Issuer.Type, IssuerCA},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if first, ok := f.FirstServer(); !ok || first.Name != "a" {
		t.Errorf("first server = %v %v, want a", first.Name, ok)
	}
}

func TestDefaultHomelabMatchesArchitecture(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"nginx-proxy-manager": "10.0.0.100", "pihole": "10.0.0.53", "immich-server": "10.0.0.101",
		"home-assistant": "10.0.0.102", "filebrowser": "10.0.0.103", "beszel": "10.0.0.104",
	}
	got := map[string]string{}
	for _, s := range f.ExposedServices() {
		got[s.Workload] = s.Address
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s LoadBalancer address = %q, want %q", k, got[k], v)
		}
	}
	pi42, _ := f.Node("pi4-2")
	if len(pi42.USB) != 1 || pi42.USB[0] != ZigbeeRule {
		t.Errorf("pi4-2 usb = %v, want [zigbee]", pi42.USB)
	}
	pi5, _ := f.Node("pi5")
	if len(pi5.Disks) != 1 || pi5.Disks[0].MountPoint != "/mnt/hd1" || pi5.Disks[0].Labels["storage-type"] != "hdd" {
		t.Errorf("pi5 disks = %+v", pi5.Disks)
	}
}

func TestBackupsMustBeOnAServersDisk(t *testing.T) {
	cases := []struct {
		name, node, dir, field, want string
	}{
		{"the default", "pi5", "/mnt/hd1/backups", "", ""},
		{"off", "", "", "", ""},
		{"unknown node", "pi9", "/mnt/hd1/backups", "backups.node", `"pi9" is not a node`},
		{"no node", "", "/mnt/hd1/backups", "backups.node", "names no node"},
		{"on the SD card", "pi4-1", "/var/backups", "backups.dir", `node "pi4-1" has no disks`},
		{"beside the disk", "pi5", "/mnt/hd10/backups", "backups.dir", "is not under a disk of node \"pi5\" (/mnt/hd1)"},
		{"the mount point itself", "pi5", "/mnt/hd1", "backups.dir", "is not under a disk"},
		{"relative", "pi5", "mnt/hd1/backups", "backups.dir", "clean absolute path"},
		{"unclean", "pi5", "/mnt/hd1/../backups", "backups.dir", "clean absolute path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			f.Cluster.Backups = Backups{Node: tc.node, Dir: tc.dir}
			errs := f.validate()
			var got []FieldError
			for _, e := range errs {
				if strings.HasPrefix(e.Field, "backups") {
					got = append(got, e)
				}
			}
			if tc.field == "" {
				if len(got) > 0 {
					t.Fatalf("want no backups error, got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Field != tc.field || !strings.Contains(got[0].Msg, tc.want) {
				t.Fatalf("want one %s error containing %q, got %v", tc.field, tc.want, got)
			}
		})
	}
}

func TestEtcdS3Settings(t *testing.T) {
	good := EtcdS3{Endpoint: "s3.us-west-004.backblazeb2.com", Bucket: "homelab-etcd", Folder: "pi-cluster",
		CredentialsFile: "/etc/nodeagent/etcd-s3-credentials"}
	cases := []struct {
		name        string
		edit        func(*EtcdS3)
		field, want string
	}{
		{"complete", func(*EtcdS3) {}, "", ""},
		{"off", func(s *EtcdS3) { *s = EtcdS3{} }, "", ""},
		{"with a port", func(s *EtcdS3) { s.Endpoint = "minio.home:9000" }, "", ""},
		{"a URL", func(s *EtcdS3) { s.Endpoint = "https://s3.example.org" }, "k3s.etcdSnapshots.s3.endpoint", "without a scheme"},
		{"no endpoint", func(s *EtcdS3) { s.Endpoint = "" }, "k3s.etcdSnapshots.s3.endpoint", "is empty"},
		{"no bucket", func(s *EtcdS3) { s.Bucket = "" }, "k3s.etcdSnapshots.s3.bucket", "is empty"},
		{"absolute folder", func(s *EtcdS3) { s.Folder = "/pi" }, "k3s.etcdSnapshots.s3.folder", "drop the leading /"},
		{"no credentials", func(s *EtcdS3) { s.CredentialsFile = "" }, "k3s.etcdSnapshots.s3.credentialsFile", "root-only file"},
		{"relative credentials", func(s *EtcdS3) { s.CredentialsFile = "s3.yaml" }, "k3s.etcdSnapshots.s3.credentialsFile", "absolute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			s := good
			tc.edit(&s)
			f.Cluster.K3s.EtcdSnapshots.S3 = s
			var got []FieldError
			for _, e := range f.validate() {
				if strings.HasPrefix(e.Field, "k3s.etcdSnapshots") {
					got = append(got, e)
				}
			}
			if tc.field == "" {
				if len(got) > 0 {
					t.Fatalf("want no error, got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Field != tc.field || !strings.Contains(got[0].Msg, tc.want) {
				t.Fatalf("want one %s error containing %q, got %v", tc.field, tc.want, got)
			}
		})
	}
}
