package identity

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nodeagent/nodeagent/internal/config"
)

// AddressWait is how long the daemon waits for a node's address to appear
// (DHCP on a Pi can take a while after boot) before it calls the machine
// not that node.
const AddressWait = 2 * time.Minute

// ExamplePath is where the package ships the homelab cluster file as an
// example; it is never read as the configuration.
const ExamplePath = "/usr/share/doc/nodeagent/examples/cluster.yaml"

// ErrNoClusterFile means there is no cluster file: commands that change the
// host never act on the built-in homelab, which names no real machine.
var ErrNoClusterFile = errors.New("no cluster file: copy " + ExamplePath + " (or the output of `nodeagent config default`) to " +
	config.DefaultPath + " and edit it")

// LocalFacts reads the hostname and the addresses of the local interfaces
// through netlink.
func LocalFacts() (Facts, error) {
	host, err := os.Hostname()
	if err != nil {
		return Facts{}, fmt.Errorf("reading hostname: %w", err)
	}
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return Facts{Hostname: host}, fmt.Errorf("listing local addresses: %w", err)
	}
	facts := Facts{Hostname: host}
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			facts.Addrs = append(facts.Addrs, ip.Unmap())
		}
	}
	return facts, nil
}

// WatchAddrs reports changes of the local addresses (in the network
// namespace of the calling thread) until ctx ends. Changes that arrive
// while the last one is unread coalesce into one.
func WatchAddrs(ctx context.Context) (<-chan struct{}, error) {
	updates := make(chan netlink.AddrUpdate)
	if err := netlink.AddrSubscribe(updates, ctx.Done()); err != nil {
		return nil, fmt.Errorf("watching local addresses: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		for range updates { // closed by netlink when ctx ends
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}

// WaitAddr waits up to timeout until want is on a local interface. It
// subscribes before it looks, so an address added in between is not missed.
func WaitAddr(ctx context.Context, want netip.Addr, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	changes, err := WatchAddrs(ctx)
	if err != nil {
		return err
	}
	for {
		facts, err := LocalFacts()
		if err != nil {
			return err
		}
		if slices.Contains(facts.Addrs, want.Unmap()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s for %s on a local interface (local addresses [%s]): %w",
				timeout, want, joinAddrs(facts.Addrs), ctx.Err())
		case <-changes:
		}
	}
}
