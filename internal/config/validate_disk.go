package config

import (
	"fmt"
	"regexp"
	"strings"
)

// mountOptionRe is the allow-list of mount options: the usual ones of the
// supported filesystems that change neither who may mount nor what the
// kernel trusts on the disk. Anything else (user, loop, bind, context=,
// remount, ...) is refused, and so is a comma, which would smuggle a second
// option into one entry. x-systemd.device-timeout is kept because it is
// the deviceTimeout field written the fstab way, which older files use.
var mountOptionRe = regexp.MustCompile(`^(` + strings.Join([]string{
	// generic (mount(8))
	`defaults`, `ro`, `rw`, `noatime`, `nodiratime`, `relatime`, `strictatime`,
	`lazytime`, `nolazytime`, `nosuid`, `suid`, `nodev`, `dev`, `noexec`, `exec`,
	`sync`, `async`, `dirsync`, `nofail`,
	// ext3/ext4, xfs, btrfs
	`discard`, `nodiscard`, `acl`, `noacl`, `user_xattr`, `nouser_xattr`,
	`errors=(continue|remount-ro|panic)`, `commit=[0-9]{1,5}`, `data=(ordered|journal|writeback)`,
	`inode64`, `ssd`, `nossd`, `autodefrag`, `noautodefrag`, `space_cache=v2`,
	`compress(-force)?=(zlib|lzo|zstd)(:[0-9]{1,2})?`,
	// vfat, exfat
	`uid=[0-9]{1,10}`, `gid=[0-9]{1,10}`, `(umask|dmask|fmask)=[0-7]{1,4}`, `utf8`, `flush`,
	`iocharset=[a-z0-9_-]{1,20}`,
	// systemd
	`x-systemd\.device-timeout=[0-9]{1,6}(ms|s|sec|min|m|h)?`,
}, "|") + `)$`)

// allowedMountOptions describes mountOptionRe for error messages and docs.
const allowedMountOptions = "defaults, ro, rw, noatime, nodiratime, relatime, strictatime, lazytime, " +
	"nolazytime, nosuid, suid, nodev, dev, noexec, exec, sync, async, dirsync, nofail, discard, " +
	"nodiscard, acl, noacl, user_xattr, nouser_xattr, errors=continue|remount-ro|panic, commit=N, " +
	"data=ordered|journal|writeback, inode64, ssd, nossd, autodefrag, noautodefrag, space_cache=v2, " +
	"compress[-force]=zlib|lzo|zstd[:N], uid=N, gid=N, umask|dmask|fmask=OOO, utf8, flush, " +
	"iocharset=NAME, x-systemd.device-timeout=SPAN"

func validateMountOptions(p *problems, diskField string, opts []string) {
	for i, o := range opts {
		if _, ctrl := controlChar(o, false); ctrl {
			continue // validateStrings says what is wrong
		}
		if !mountOptionRe.MatchString(o) {
			p.add(fmt.Sprintf("%s.options[%d]", diskField, i), "%q is not an allowed mount option (one option per entry; allowed: %s)", o, allowedMountOptions)
		}
	}
}

// validateMountPoint checks what systemd reads specially in a mount unit:
// % starts a specifier (so Where= no longer matches the unit's name and
// systemd refuses it), a trailing \ continues the line, and leading or
// trailing blanks are stripped.
func validateMountPoint(p *problems, field, mp string) {
	if strings.ContainsAny(mp, `%\`) {
		p.add(field, "%q: %% and \\ are not allowed in a mount point (systemd reads them specially in the mount unit)", mp)
	}
	if strings.TrimSpace(mp) != mp {
		p.add(field, "%q: a mount point may not start or end with blanks", mp)
	}
}
