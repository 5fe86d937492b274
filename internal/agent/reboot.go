package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/preflight"
)

// RebootPolicy says whether this run of the agent may reboot the host.
type RebootPolicy int

// The daemon follows preflight.reboot; `nodeagent join` in a terminal never
// reboots by itself (exit 3), `join --reboot` reboots as asked.
const (
	RebootNever RebootPolicy = iota
	RebootBySetting
	RebootAlways
)

// RebootRecord is the one reboot nodeagent asked for to apply a kernel
// command line: which content, in which boot, when. It is what makes "at most
// one reboot per change" hold across restarts of the daemon.
type RebootRecord struct {
	CmdlineSHA256 string    `json:"cmdlineSHA256"`
	BootID        string    `json:"bootID"`
	At            time.Time `json:"at"`
}

// rebootVerdict is what to do about a command line that is not in effect.
type rebootVerdict int

const (
	verdictManual       rebootVerdict = iota // say "reboot required" and wait
	verdictReboot                            // reboot now, once
	verdictPending                           // asked in this boot already: wait for it
	verdictNotEffective                      // rebooted for this content already and it did not help
)

// rebootInput is everything decideReboot looks at.
type rebootInput struct {
	Policy  RebootPolicy
	Setting string // preflight.reboot
	Joined  bool
	Last    *RebootRecord
	Cmdline string // sha256 of cmdline.txt as it is now
	BootID  string // this boot's /proc/sys/kernel/random/boot_id
}

// decideReboot is pure: the daemon reboots once per cmdline.txt content; a
// second boot with the same content and the flags still missing is reported,
// never rebooted again. Without a boot id it cannot tell a reboot happened,
// so it does not reboot at all.
func decideReboot(in rebootInput) rebootVerdict {
	auto := in.Setting == config.RebootAuto || (in.Setting == config.RebootUntilJoined && !in.Joined)
	if in.Policy == RebootNever || (in.Policy == RebootBySetting && !auto) || in.BootID == "" {
		return verdictManual
	}
	if in.Last != nil && in.Last.CmdlineSHA256 == in.Cmdline {
		if in.Last.BootID == in.BootID {
			return verdictPending
		}
		return verdictNotEffective
	}
	return verdictReboot
}

// ErrRebooting stops the run while systemd reboots the host.
var ErrRebooting = errors.New("rebooting")

// rebootForCmdline acts on a kernel command line that is not in effect yet:
// reboot once, or say why not. check is the memory cgroup check, for its
// message when a reboot did not help.
func (a *Agent) rebootForCmdline(ctx context.Context, res preflight.CmdlineResult, check preflight.Check) error {
	st, err := a.loadState()
	if err != nil {
		return err
	}
	in := rebootInput{Policy: a.RebootPolicy, Setting: a.cluster().Preflight.Reboot, Joined: st.Joined,
		Last: st.Reboot, Cmdline: sha256Hex(res.Content), BootID: a.bootID()}
	switch decideReboot(in) {
	case verdictPending:
		return fmt.Errorf("%w: asked systemd at %s to reboot for %s; if it does not, reboot this node (nodeagent asks once per change)",
			ErrRebooting, st.Reboot.At.Format(time.RFC3339), res.Path)
	case verdictNotEffective:
		a.log.Error("rebooted once for the memory cgroup, still not in effect: not rebooting again",
			zap.String("file", res.Path), zap.Time("rebootedAt", st.Reboot.At), zap.String("fix", check.Fix))
		return fmt.Errorf("%w: rebooted at %s for %s, but the running kernel still lacks its memory cgroup flags (not rebooting again): %s; fix: %s",
			ErrMemoryCgroup, st.Reboot.At.Format(time.RFC3339), res.Path, check.Message, check.Fix)
	case verdictReboot:
		if a.Systemd == nil {
			break // no D-Bus: fall back to asking for a reboot
		}
		why := res.Path + " now enables the memory cgroup (cgroup_memory=1 cgroup_enable=memory), which takes a reboot"
		a.log.Warn("rebooting once to apply the kernel command line; the join resumes after boot",
			zap.String("file", res.Path), zap.String("reason", why), zap.String("bootID", in.BootID))
		a.Reporter.Status("rebooting: " + why + "; the join resumes after boot")
		// Recorded before asking, so a crash or a failed request still counts
		// as this change's one reboot.
		st.Reboot = &RebootRecord{CmdlineSHA256: in.Cmdline, BootID: in.BootID, At: a.Clock.Now().UTC()}
		if err := SaveState(a.Root, st); err != nil {
			return fmt.Errorf("recording the reboot: %w", err)
		}
		if err := a.Systemd.Reboot(ctx); err != nil {
			return fmt.Errorf("rebooting for %s: %w", res.Path, err)
		}
		return fmt.Errorf("%w: %s", ErrRebooting, why)
	}
	a.log.Warn("memory cgroup enabled on the kernel command line: reboot to continue", zap.String("file", res.Path),
		zap.String("preflight.reboot", in.Setting))
	return fmt.Errorf("%w: %s now enables the memory cgroup", ErrRebootRequired, res.Path)
}

// bootID identifies this boot; "" when unreadable.
func (a *Agent) bootID() string {
	b, err := os.ReadFile(a.Root.Path("/proc/sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
