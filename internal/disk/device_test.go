package disk

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/host"
)

func TestScanFixture(t *testing.T) {
	root := writeSysfs(t,
		sysBlock{name: "mmcblk0", majMin: "179:0", size: "62521344", serial: "0x1234"},
		sysBlock{name: "mmcblk0p2", parent: "mmcblk0", majMin: "179:2", size: "61000000"},
		sysBlock{name: "sda", majMin: "8:0", size: "1953525168", model: "Elements 25A3",
			vpd80: append([]byte{0, 0x80, 0, 8}, []byte("WX12AB34")...)},
		sysBlock{name: "sda1", parent: "sda", majMin: "8:1", size: "1953523120"},
		sysBlock{name: "loop3", majMin: "7:3", size: "0"},
	)
	run := &host.FakeRunner{
		Responses: map[string]string{
			"blkid -p -o export /dev/mmcblk0":   "DEVNAME=/dev/mmcblk0\nPTUUID=abcd\nPTTYPE=dos\n",
			"blkid -p -o export /dev/mmcblk0p2": "DEVNAME=/dev/mmcblk0p2\nLABEL=rootfs\nUUID=r-1\nTYPE=ext4\nPART_ENTRY_UUID=abcd-02\n",
			"blkid -p -o export /dev/sda":       "PTTYPE=gpt\n",
			"blkid -p -o export /dev/sda1":      "LABEL=my\\ hd1\nUUID=u-1\nTYPE=ext4\nPART_ENTRY_UUID=p-1\n",
		},
	}
	got, err := Scan(context.Background(), root, run)
	must(t, err)
	want := []Device{
		{Name: "mmcblk0", Path: "/dev/mmcblk0", MajMin: "179:0", Size: 62521344, Serial: "0x1234", PTType: "dos"},
		{Name: "mmcblk0p2", Path: "/dev/mmcblk0p2", MajMin: "179:2", Parent: "mmcblk0", Size: 61000000,
			Serial: "0x1234", Type: "ext4", UUID: "r-1", Label: "rootfs", PARTUUID: "abcd-02"},
		{Name: "sda", Path: "/dev/sda", MajMin: "8:0", Size: 1953525168, Serial: "WX12AB34", Model: "Elements 25A3", PTType: "gpt"},
		{Name: "sda1", Path: "/dev/sda1", MajMin: "8:1", Parent: "sda", Size: 1953523120, Serial: "WX12AB34",
			Model: "Elements 25A3", Type: "ext4", UUID: "u-1", Label: "my hd1", PARTUUID: "p-1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scan (-want +got):\n%s", diff)
	}
	if calls := run.CallsWithPrefix("blkid"); len(calls) != 4 {
		t.Errorf("blkid calls = %q, want 4 (the empty loop3 is not probed)", calls)
	}
}

func TestProbeExitCodes(t *testing.T) {
	const argv = "blkid -p -o export /dev/sdb"
	tests := []struct {
		name    string
		err     error
		out     string
		want    Device
		wantErr bool
	}{
		{name: "nothing found is blank", err: exitErr(2), want: Device{Path: "/dev/sdb"}},
		{name: "ambivalent is a signature", err: exitErr(8), want: Device{Path: "/dev/sdb", Ambivalent: true}},
		// An unreadable device must not look blank, or if-blank would format it.
		{name: "other failure is an error", err: exitErr(4), wantErr: true},
		// blkid exits 2 also when open(2) fails, with the reason on stderr.
		{name: "exit 2 with an error message is an error", err: &host.CommandError{Argv: argv,
			Stderr: "blkid: error: /dev/sdb: Input/output error", Err: exitErr(2)}, wantErr: true},
		{name: "not an exit code is an error", err: errors.New("permission denied"), wantErr: true},
		{name: "luks", out: "TYPE=crypto_LUKS\nUUID=x\n", want: Device{Path: "/dev/sdb", Type: "crypto_LUKS", UUID: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &host.FakeRunner{Responses: map[string]string{argv: tt.out}}
			if tt.err != nil {
				run.Errors = map[string]error{argv: tt.err}
			}
			d := Device{Path: "/dev/sdb"}
			err := probe(context.Background(), blockNodeRoot(t, "sdb"), run, &d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("probe error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, d); diff != "" {
				t.Errorf("device (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	tests := []struct {
		dev  Device
		want string
	}{
		{Device{}, ""},
		{Device{Type: "ext4"}, "ext4"},
		{Device{Type: "LVM2_member"}, "LVM2_member"},
		{Device{Type: "linux_raid_member"}, "linux_raid_member"},
		{Device{PTType: "gpt"}, "partition table gpt"},
		{Device{Type: "ext4", Ambivalent: true}, "ext4, several signatures"},
	}
	for _, tt := range tests {
		if got := tt.dev.Signature(); got != tt.want {
			t.Errorf("Signature(%+v) = %q, want %q", tt.dev, got, tt.want)
		}
	}
}

func TestProbeMissingNodeIsNotBlank(t *testing.T) {
	needRealDisks(t)
	m, run, _ := realManager(t)
	for _, path := range []string{"/dev/nodeagent-no-such-device", "/dev/null"} {
		d := Device{Path: path}
		if err := probe(context.Background(), m.root, run, &d); err == nil {
			t.Errorf("probing %s gave %+v and no error, want not blank", path, d)
		}
	}
}
