package release

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

func TestInstallNoopAndRepair(t *testing.T) {
	bin := payload(3, 1<<20)
	srv := newRelServer(t, bin)
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	ctx := context.Background()
	k := testK3s(srv.URL)

	type run struct {
		Changed    bool
		Bins, Sums int
	}
	var got []run
	do := func() {
		res, err := inst.Install(ctx, k, "arm64")
		if err != nil {
			t.Fatalf("Install: %v", err)
		}
		b, s := srv.counts()
		got = append(got, run{res.BinaryChanged, b, s})
	}
	do() // fresh install
	do() // no-op: hash known from the state file, no network
	// A binary damaged in place (same size, new mtime) is re-hashed and replaced.
	damaged := append([]byte{}, bin...)
	damaged[10] ^= 0xff
	before, err := os.Stat(root.Path(BinaryPath))
	if err != nil {
		t.Fatal(err)
	}
	// Replace it keeping size and mtime: only the inode (and ctime) tell.
	tmp := root.Path(BinaryPath) + ".other"
	if err := os.WriteFile(tmp, damaged, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, root.Path(BinaryPath)); err != nil {
		t.Fatal(err)
	}
	do()
	// Losing the state file costs one hash of the binary, not a download.
	if err := os.Remove(root.Path(DefaultStatePath)); err != nil {
		t.Fatal(err)
	}
	do()
	want := []run{{true, 1, 1}, {false, 1, 1}, {true, 2, 1}, {false, 2, 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	assertBinary(t, root, bin)
}

func TestInstallPinnedWins(t *testing.T) {
	bin := payload(4, 256<<10)
	tests := []struct {
		name, pinned, fileSum string
		wantErr               bool
	}{
		{name: "pinned right, file wrong", pinned: sha(bin), fileSum: sha([]byte("x"))},
		{name: "pinned wrong, file right", pinned: sha([]byte("x")), fileSum: sha(bin), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRelServer(t, bin)
			srv.sums = tc.fileSum + "  k3s-arm64\n"
			root := newRoot(t)
			k := testK3s(srv.URL)
			k.SHA256 = map[string]string{"arm64": tc.pinned}
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
			_, err := inst.Install(context.Background(), k, "arm64")
			if (err != nil) != tc.wantErr {
				t.Fatalf("Install error = %v, want error %v", err, tc.wantErr)
			}
			if _, sums := srv.counts(); sums != 0 {
				t.Errorf("checksum file fetched %d times; a pinned hash needs none", sums)
			}
			if tc.wantErr {
				assertBinary(t, root, nil)
			} else {
				assertBinary(t, root, bin)
			}
		})
	}
}

func TestInstallAirgappedDirectory(t *testing.T) {
	bin, images := payload(5, 512<<10), payload(6, 300<<10)
	root := newRoot(t)
	dir := "/media/usb/k3s/" + testVersion
	writeTree(t, root, map[string]string{
		dir + "/k3s-arm64":                       string(bin),
		dir + "/k3s-airgap-images-arm64.tar.zst": string(images),
		dir + "/sha256sum-arm64.txt": sha(bin) + "  k3s-arm64\n" +
			sha(images) + "  k3s-airgap-images-arm64.tar.zst\n",
	})
	var last [2]int64
	opts := testOptions()
	opts.Progress = func(done, total int64) { last = [2]int64{done, total} }
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, opts)
	k := config.K3s{Version: testVersion, ReleaseBase: "/media/usb/k3s"}
	res, err := inst.Install(context.Background(), k, "arm64")
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if !res.BinaryChanged || !res.ImagesChanged {
		t.Errorf("result = %+v, want binary and images changed", res)
	}
	assertBinary(t, root, bin)
	gotImages, err := os.ReadFile(root.Path(ImagesDir + "/k3s-airgap-images-arm64.tar.zst"))
	if err != nil || sha(gotImages) != sha(images) {
		t.Errorf("images not installed: %v", err)
	}
	if last != [2]int64{int64(len(images)), int64(len(images))} {
		t.Errorf("last progress = %v, want done=total=%d", last, len(images))
	}
	res, err = inst.Install(context.Background(), k, "arm64")
	if err != nil || res.BinaryChanged || res.ImagesChanged {
		t.Errorf("second run = %+v, %v; want no change", res, err)
	}
	// Images present but not listed cannot be verified: refuse.
	writeTree(t, root, map[string]string{dir + "/sha256sum-arm64.txt": sha(bin) + "  k3s-arm64\n"})
	if _, err := inst.Install(context.Background(), k, "arm64"); err == nil || !strings.Contains(err.Error(), "not listed") {
		t.Errorf("unlisted images: error = %v, want 'not listed'", err)
	}
}

func TestResolve(t *testing.T) {
	k := config.K3s{Version: testVersion, ReleaseBase: "https://github.com/k3s-io/k3s/releases/download/"}
	tests := []struct {
		arch, base string
		want       Assets
		wantErr    bool
	}{
		{arch: "arm64", want: Assets{Asset: "k3s-arm64",
			BinaryLoc:   "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s-arm64",
			ChecksumLoc: "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-arm64.txt"}},
		{arch: "amd64", want: Assets{Asset: "k3s",
			BinaryLoc:   "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s",
			ChecksumLoc: "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-amd64.txt"}},
		{arch: "arm", base: "file:///srv/k3s", want: Assets{Asset: "k3s-armhf", Local: true,
			BinaryLoc: "/srv/k3s/v1.33.5+k3s1/k3s-armhf", ChecksumLoc: "/srv/k3s/v1.33.5+k3s1/sha256sum-arm.txt"}},
		{arch: "riscv64", wantErr: true},
		{arch: "arm64", base: "ftp://mirror/k3s", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.arch+tc.base, func(t *testing.T) {
			kk := k
			if tc.base != "" {
				kk.ReleaseBase = tc.base
			}
			got, err := Resolve(kk, tc.arch)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			got = Assets{Asset: got.Asset, Local: got.Local, BinaryLoc: got.BinaryLoc, ChecksumLoc: got.ChecksumLoc}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseChecksums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 64)
	got, err := ParseChecksums([]byte(a + "  k3s-arm64\n\n" + b + " *k3s\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k3s-arm64": a, "k3s": strings.ToLower(b)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseChecksums([]byte("nothex  k3s\n")); err == nil {
		t.Error("bad line: want error")
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"3", 3 * time.Second, true}, {"", 0, false}, {"soon", 0, false}, {"-1", 0, false}}
	for _, tc := range tests {
		d, ok := retryAfter(tc.in)
		if d != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, d, ok, tc.want, tc.ok)
		}
	}
}
