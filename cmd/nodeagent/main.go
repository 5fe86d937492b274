// Command nodeagent turns a Raspberry Pi into a member of the k3s homelab
// described by the cluster file: `join` provisions it once, `run` keeps it in
// step as a systemd service, `plan` shows what either would do.
package main

import "github.com/nodeagent/nodeagent/internal/cli"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { cli.Execute(newRootCommand()) }
