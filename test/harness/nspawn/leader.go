package nspawn

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// findLeader returns the PID (in the host's PID namespace) of the process
// that is PID 1 inside the container started by the systemd-nspawn process
// nspawnPID, or 0 when it does not exist yet.
//
// nspawn forks an "outer child" that clones the container's init into a new
// PID namespace, so the leader is a child or grandchild of nspawn; it is the
// one whose innermost NSpid is 1.
func findLeader(procDir string, nspawnPID int) (int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", procDir, err)
	}
	parents := map[int]int{}
	var candidates []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, nsInit, err := readStatus(filepath.Join(procDir, e.Name(), "status"))
		if err != nil {
			continue // exited while we looked
		}
		parents[pid] = ppid
		if nsInit {
			candidates = append(candidates, pid)
		}
	}
	for _, pid := range candidates {
		if p := parents[pid]; p == nspawnPID || parents[p] == nspawnPID {
			return pid, nil
		}
	}
	return 0, nil
}

// readStatus reads PPid and whether the process is PID 1 of a nested PID
// namespace (NSpid lists more than one PID and the last is 1).
func readStatus(path string) (ppid int, nsInit bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		switch key {
		case "PPid":
			if len(fields) == 1 {
				ppid, _ = strconv.Atoi(fields[0])
			}
		case "NSpid":
			nsInit = len(fields) > 1 && fields[len(fields)-1] == "1"
		}
	}
	return ppid, nsInit, nil
}
