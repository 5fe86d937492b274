package systemd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// DefaultBusSocket is where the system bus listens on a Debian host.
const DefaultBusSocket = "/run/dbus/system_bus_socket"

// Manager manages units of one systemd instance through its D-Bus API.
type Manager struct {
	log    *zap.Logger
	root   host.Root
	runner host.Runner
	clock  host.Clock
	conn   *sdbus.Conn
	// bus is the first of the two connections go-systemd dials (the one it
	// sends method calls on); it serves the calls go-systemd does not wrap,
	// such as timedate1's properties.
	bus          *dbus.Conn
	pollInterval time.Duration
}

// Option configures a Manager.
type Option func(*options)

type options struct {
	busSocket    string
	runner       host.Runner
	clock        host.Clock
	pollInterval time.Duration
}

// WithBusSocket dials the system bus at path instead of the host's, e.g.
// /proc/<pid>/root/run/dbus/system_bus_socket for a container's systemd.
func WithBusSocket(path string) Option { return func(o *options) { o.busSocket = path } }

// WithRunner sets the Runner for journalctl (default: a host.ExecRunner).
func WithRunner(r host.Runner) Option { return func(o *options) { o.runner = r } }

// WithClock sets the clock WaitActive polls with (default: the real clock).
func WithClock(c host.Clock) Option { return func(o *options) { o.clock = c } }

// WithPollInterval sets how often WaitActive reads the unit's state.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// New connects to the system bus and returns a Manager for the systemd on
// it; unit files are written under root. The connection outlives ctx (a
// dial timeout must not close it later); Close ends it.
func New(ctx context.Context, log *zap.Logger, root host.Root, opts ...Option) (*Manager, error) {
	log = log.With(zap.String("component", "systemd"))
	o := options{busSocket: DefaultBusSocket, clock: host.RealClock{}, pollInterval: 250 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	if o.runner == nil {
		o.runner = host.NewExecRunner(log)
	}
	// godbus closes a connection when its context ends.
	d := &dialer{ctx: context.WithoutCancel(ctx), address: "unix:path=" + o.busSocket}
	conn, err := sdbus.NewConnection(d.dial)
	if err != nil {
		return nil, fmt.Errorf("connecting to system bus at %s: %w", o.busSocket, err)
	}
	m := &Manager{
		log: log, root: root, runner: o.runner, clock: o.clock,
		conn: conn, bus: d.first(), pollInterval: o.pollInterval,
	}
	// systemd only emits JobRemoved (which Start/Stop wait on) to clients
	// that subscribed; see sd_bus_track use in src/core/dbus.c.
	if err := conn.Subscribe(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribing to systemd signals: %w", err)
	}
	log.Debug("connected to systemd", zap.String("bus", o.busSocket))
	return m, nil
}

// Close closes the bus connections.
func (m *Manager) Close() { m.conn.Close() }

// dialer opens authenticated connections to one bus address and remembers
// the first, which go-systemd uses for method calls.
type dialer struct {
	ctx     context.Context
	address string
	mu      sync.Mutex
	conns   []*dbus.Conn
}

func (d *dialer) dial() (*dbus.Conn, error) {
	conn, err := dbus.Dial(d.address, dbus.WithContext(d.ctx))
	if err != nil {
		return nil, err
	}
	// EXTERNAL with the numeric uid, as go-systemd does, so no user name
	// lookup is needed.
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticating: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("saying hello: %w", err)
	}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return conn, nil
}

func (d *dialer) first() *dbus.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[0]
}
