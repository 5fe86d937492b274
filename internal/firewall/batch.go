package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// batchPython is the interpreter of Debian's ufw (its #! line).
const batchPython = "/usr/bin/python3"

// batchScript runs many ufw commands in one process through ufw's own
// frontend, the calls /usr/sbin/ufw makes for one command, under ufw's
// lock. A fresh node's thirty-odd rules then cost one interpreter start and
// one read of ufw's files instead of thirty (about 0.3 s each on a Pi). It says which command it
// is at, so a failure names the right one, and "unsupported" when this
// ufw's frontend is not the one it knows (the caller then runs `ufw` per
// command).
const batchScript = `import json, sys
try:
    import gettext, ufw.common, ufw.frontend
    from ufw.common import UFWError
    from ufw.util import create_lock, release_lock
    gettext.install(ufw.common.programName)
    parse, Frontend = ufw.frontend.parse_command, ufw.frontend.UFWFrontend
except Exception as e:
    print("nodeagent-batch: unsupported: %s" % e, flush=True)
    sys.exit(3)
cmds = json.loads(sys.argv[1])
sys.argv = ["/usr/sbin/ufw"]  # ufw checks the ownership of its program's path
lock = create_lock(lockfile="/run/ufw.lock", dryrun=False)
try:
    ui = Frontend(False)  # one frontend: its backend keeps the rules it writes
    for i, args in enumerate(cmds):
        print("nodeagent-batch: step %d" % i, flush=True)
        pr = parse(["ufw"] + args)
        rule = pr.data.get("rule", "")
        res = ui.do_action(pr.action, rule, pr.data.get("iptype", "") if rule else "", pr.force)
        if res:
            print(res, flush=True)
    print("nodeagent-batch: done", flush=True)
except UFWError as e:
    sys.stderr.write("ERROR: %s\n" % e.value)
    sys.exit(1)
finally:
    release_lock(lock)
`

const (
	batchStep        = "nodeagent-batch: step "
	batchDone        = "nodeagent-batch: done"
	batchUnsupported = "nodeagent-batch: unsupported"
)

// applyChanges makes the changes in order and returns those made: in one
// batch when this ufw allows it, else one `ufw` per change. It stops at the
// first failure. Each change is logged as what.
func (f *Firewall) applyChanges(ctx context.Context, changes []Change, what string) ([]Change, error) {
	for _, ch := range changes {
		f.log.Info(what, zap.String("change", ch.Description), zap.Strings("args", ch.Args))
	}
	if len(changes) > 1 {
		done, err := f.runBatch(ctx, changes)
		if !errors.Is(err, errBatchUnsupported) {
			return done, err
		}
		f.log.Info("ufw batch unavailable, running ufw once per change", zap.Error(err))
	}
	var done []Change
	for _, ch := range changes {
		if _, err := f.run.Run(ctx, "ufw", ch.Args...); err != nil {
			return done, fmt.Errorf("applying ufw change %q: %w", ch.Description, err)
		}
		done = append(done, ch)
	}
	return done, nil
}

var errBatchUnsupported = errors.New("ufw batch unsupported")

// runBatch runs batchScript over the changes. errBatchUnsupported means
// nothing was changed and the caller should go one by one.
func (f *Firewall) runBatch(ctx context.Context, changes []Change) ([]Change, error) {
	argv := make([][]string, len(changes))
	for i, ch := range changes {
		argv[i] = ch.Args
	}
	list, err := json.Marshal(argv)
	if err != nil {
		return nil, err
	}
	out, runErr := f.run.Run(ctx, batchPython, "-c", batchScript, string(list))
	step, done, unsupported := readBatchOutput(string(out))
	switch {
	case unsupported || step < 0 && !done:
		// Not started (no python3, another frontend) or not answered at all.
		return nil, fmt.Errorf("%w: %v", errBatchUnsupported, orNone(runErr, out))
	case runErr == nil && done:
		return changes, nil
	case runErr == nil:
		return changes[:step], fmt.Errorf("ufw batch stopped at change %q without saying why", changes[step].Description)
	}
	failed := changes[min(max(step, 0), len(changes)-1)]
	msg := runErr.Error()
	var cmdErr *host.CommandError
	if errors.As(runErr, &cmdErr) {
		// The argv is the script: name the ufw command instead.
		msg = fmt.Sprintf("%v: %s", cmdErr.Err, cmdErr.Stderr)
	}
	return changes[:max(step, 0)], fmt.Errorf("applying ufw change %q (%s): %s",
		failed.Description, host.QuoteArgv("ufw", failed.Args), msg)
}

// readBatchOutput returns the last step the batch started (-1: none),
// whether it finished, and whether it found this ufw unsupported.
func readBatchOutput(out string) (step int, done, unsupported bool) {
	step = -1
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, batchStep):
			if n, err := strconv.Atoi(strings.TrimPrefix(line, batchStep)); err == nil {
				step = n
			}
		case line == batchDone:
			done = true
		case strings.HasPrefix(line, batchUnsupported):
			unsupported = true
		}
	}
	return step, done, unsupported
}

func orNone(err error, out []byte) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("no answer (%d bytes of output)", len(out))
}
