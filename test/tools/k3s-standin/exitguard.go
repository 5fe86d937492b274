package main

import (
	"context"
	"os"
	"runtime"

	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

// exitGuard decides what becomes of an embedded component's own exit
// (klog.FlushAndExit, as the scheduler and the controller-manager call
// when they lose their leader lease). While the process runs, the process
// exits with that code, as k3s does when one of its embedded components
// exits. Once SIGTERM is being handled the apiserver is going away, so
// every leader lease is about to be lost: that exit is ignored (its
// goroutine ends) and the graceful stop goes on to exit 0.
type exitGuard struct {
	// stop ends on SIGTERM; its Err is set before any component sees it end.
	stop context.Context
	log  *zap.Logger
}

// installExitGuard routes klog's exits through a new exitGuard; klog's
// OsExit is process-wide, as the components' use of it is.
func installExitGuard(stop context.Context, log *zap.Logger) {
	g := &exitGuard{stop: stop, log: log}
	klog.OsExit = g.exit
}

func (g *exitGuard) exit(code int) {
	if g.stop.Err() != nil {
		g.log.Info("an embedded component asked to exit while the server stops; ignored", zap.Int("code", code))
		runtime.Goexit()
	}
	g.log.Error("an embedded component exited; the process exits with it", zap.Int("code", code))
	_ = g.log.Sync()
	os.Exit(code)
}
