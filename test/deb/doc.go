// Package deb tests the Debian package end to end: it builds the .deb with
// packaging/build-deb.sh from a freshly built binary, installs it into a
// systemd-nspawn container running real systemd (test/harness/nspawn), and
// checks what a Pi owner relies on: the unit is enabled and active (READY
// sent), STATUS text and structured journal fields without the token, the
// watchdog restarting a hung daemon, an upgrade that keeps the edited
// cluster file and restarts the new binary, and a purge that leaves no file
// of nodeagent's behind. It also measures the idle daemon (RSS, CPU, fds,
// threads) and runs lintian on the package.
//
// The tests need root, systemd-nspawn, dpkg-deb and lintian; without them
// they skip, or fail when CI=true or NODEAGENT_INTEGRATION=1.
package deb
