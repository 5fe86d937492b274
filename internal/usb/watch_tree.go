package usb

import (
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// devTree is the chain of directories whose changes mean a serial device
// came or went: /dev/serial/by-id holds udev's links, but it and /dev/serial
// only exist while at least one serial device is plugged in, so their parents
// are watched too and the children re-armed when they reappear. The root of
// the tree is watched only while /dev is missing (fixture roots).
type devTree struct {
	levels []level
}

type level struct {
	dir string // under the root
	// interesting reports whether a change to the named entry of dir
	// matters.
	interesting func(name string) bool
}

func newDevTree(root host.Root) devTree {
	is := func(want string) func(string) bool { return func(n string) bool { return n == want } }
	return devTree{levels: []level{
		{dir: root.Path("/"), interesting: is("dev")},
		// ttyUSB*/ttyACM* in /dev: the only sign of a device on a node
		// without udev.
		{dir: root.Path(devDir), interesting: func(n string) bool { return n == "serial" || IsTTYName(n) }},
		{dir: root.Path(serialDir), interesting: is("by-id")},
		{dir: root.Path(serialByID), interesting: func(string) bool { return true }},
	}}
}

// arm adds a watch on every level that exists, from /dev down. Adding a
// watched path again is a no-op for inotify; watches of removed directories
// are dropped by fsnotify itself.
func (t devTree) arm(fsw *fsnotify.Watcher, log *zap.Logger) {
	_, err := os.Stat(t.levels[1].dir)
	first := 1
	if err != nil {
		first = 0
	}
	for _, l := range t.levels[first:] {
		if _, err := os.Stat(l.dir); err != nil {
			return
		}
		if err := fsw.Add(l.dir); err != nil {
			// Lost a race with a removal; the event that follows re-arms.
			log.Debug("usb watch not armed", zap.String("dir", l.dir), zap.Error(err))
			return
		}
	}
}

// relevant reports whether ev may change the scan result.
func (t devTree) relevant(ev fsnotify.Event) bool {
	if ev.Has(fsnotify.Chmod) {
		return false
	}
	parent, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	for _, l := range t.levels {
		if ev.Name == l.dir {
			return true // a watched directory itself went away
		}
		if parent == l.dir && l.interesting(name) {
			return true
		}
	}
	return false
}
