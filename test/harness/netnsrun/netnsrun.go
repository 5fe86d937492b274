// Package netnsrun runs a function of a test inside a network namespace the
// test made: the sockets it opens, and what netlink shows it, are that
// namespace's.
package netnsrun

import (
	"errors"
	"runtime"

	"github.com/vishvananda/netns"
)

// InNamed runs fn on an OS thread inside the namespace named name (as `ip
// netns add` names it) and returns its error. The thread goes back to its
// namespace afterwards, or is discarded when it cannot.
func InNamed(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err) // the thread stays locked and is discarded
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
