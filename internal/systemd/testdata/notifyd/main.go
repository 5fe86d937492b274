// Command notifyd stands in for a Type=notify daemon in the integration
// tests of package systemd: it reports STATUS and READY through
// systemd.Notifier and then sleeps until stopped, or, with -exit N, exits
// with status N before becoming ready.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/systemd"
)

func main() {
	exit := flag.Int("exit", 0, "exit with this status instead of becoming ready")
	status := flag.String("status", "serving", "STATUS= text sent with READY=1")
	flag.Parse()
	if *exit != 0 {
		fmt.Println("notifyd: failing on purpose")
		os.Exit(*exit)
	}
	n := systemd.NewNotifier(zap.NewNop())
	if err := n.Status(*status); err != nil {
		fail(err)
	}
	if err := n.Ready(); err != nil {
		fail(err)
	}
	fmt.Println("notifyd: ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = n.Stopping()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "notifyd:", err)
	os.Exit(2)
}
