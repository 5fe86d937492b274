package config

import (
	"net"
	"net/netip"
	"strconv"
)

// MetricsOff is the value of metrics.listen that turns the endpoint off
// (as does an empty string).
const MetricsOff = "off"

// Metrics configures the daemon's Prometheus endpoint.
type Metrics struct {
	// Listen is host:port of the endpoint, DefaultMetricsListen when
	// omitted; "" or "off" turns it off. A pointer, so that an explicit
	// empty string is told from an omitted field.
	Listen *string `yaml:"listen" json:"listen"`
}

// Address is where the endpoint listens, "" when it is off.
func (m Metrics) Address() string {
	if m.Listen == nil {
		return DefaultMetricsListen
	}
	if *m.Listen == MetricsOff {
		return ""
	}
	return *m.Listen
}

// LoopbackOnly reports whether addr (host:port) listens on loopback only:
// an empty host or an unspecified address (0.0.0.0, ::) listens on every
// interface.
func LoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateMetrics accepts an IP literal (or an empty host, every address)
// and a port: a host name would make the daemon's start depend on DNS.
func validateMetrics(p *problems, c *Cluster) {
	addr := c.Metrics.Address()
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add("metrics.listen", "%q must be host:port (like %s), or off", addr, DefaultMetricsListen)
		return
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil {
		p.add("metrics.listen", "%q: the host must be an IP address (like 127.0.0.1 or ::1), or empty for every address", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.add("metrics.listen", "%q: the port must be a number from 1 to 65535", addr)
	}
}
