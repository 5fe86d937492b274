package manifests

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// TestPiholeAnswersRenderedRecords loads the rendered dns.hosts into a DNS
// server on loopback and asks it with Go's own resolver, as
// `dig immich.home @10.0.0.53` would ask Pi-hole. The server reads the
// value as FTL does: entries split at ";" (src/config/env.c), each
// "IP HOSTNAME [HOSTNAME ...]" (validate_dns_hosts in
// src/config/validator.c); a name it does not hold is NXDOMAIN, as for
// Pi-hole's local domain, which it never forwards.
func TestPiholeAnswersRenderedRecords(t *testing.T) {
	cm, _ := piholeObjects(t, render(t, homelab(t)))
	addr := serveHosts(t, cm.Data["FTLCONF_dns_hosts"])
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, want := range map[string]string{"immich.home.": "10.0.0.101", "pihole.home.": "10.0.0.53", "beszel.home.": "10.0.0.104"} {
		got, err := r.LookupHost(ctx, name)
		if err != nil {
			t.Fatalf("looking up %s: %v", name, err)
		}
		if diff := cmp.Diff([]string{want}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupHost(ctx, "immich-server.home."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("immich-server.home: err = %v, want not found", err)
	}
}

// serveHosts answers on a loopback UDP port until the test ends.
func serveHosts(t *testing.T, hosts string) string {
	t.Helper()
	table := map[string][]netip.Addr{}
	for _, entry := range strings.Split(hosts, ";") {
		f := strings.Fields(entry)
		ip, err := netip.ParseAddr(f[0])
		if err != nil || len(f) < 2 {
			t.Fatalf("dns.hosts entry %q is not IP HOSTNAME", entry)
		}
		for _, name := range f[1:] {
			table[strings.ToLower(name)+"."] = append(table[strings.ToLower(name)+"."], ip)
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := answer(buf[:n], table); err == nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func answer(req []byte, table map[string][]netip.Addr) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	addrs, known := table[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if q.Type == dnsmessage.TypeA && a.Is4() {
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 2}
			if err := b.AResource(rr, dnsmessage.AResource{A: a.As4()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}
