package manifests

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// health is how the kubelet checks one app's main container: check serves
// liveness and readiness, startup is how long first start may take (0: no
// startupProbe) before liveness counts. Each check names the app source that
// documents it.
type health struct {
	check   corev1.ProbeHandler
	startup int32 // seconds
}

// The probe timing, for a Pi 4 that may be at full load (a restic run, an
// immich import) for minutes: readiness reacts in ~30 s (3×10 s, with 5 s per
// try) so MetalLB stops announcing a node whose replica stopped answering;
// liveness restarts only after 2 minutes of failures in a row (6×20 s), far
// longer than any stall from swapping or an SD card flush, so a slow Pi is
// not put into a restart loop that makes it slower still. Slow first starts
// (migrations, pip installs, initdb) get a startupProbe instead of a longer
// liveness, so a hung app is still caught in 2 minutes afterwards.
const (
	readyPeriod, readyFailures = 10, 3
	livePeriod, liveFailures   = 20, 6
	probeTimeout               = 5
	startupPeriod              = 10
)

var healthChecks = map[string]health{
	// docker/rootfs/bin/check-health of jc21/nginx-proxy-manager: GET /api/
	// on the admin port answers {"status":"OK"} without a login once the
	// backend has run its migrations.
	"nginx-proxy-manager": {check: httpGet("/api/", "admin"), startup: 300},
	// docker-pi-hole's Dockerfile HEALTHCHECK asks FTL for pi.hole on the
	// loopback: the DNS answer itself, not just an open port. The first start
	// downloads the block lists before gravity is built.
	"pihole": {check: command("dig", "+short", "+norecurse", "+retry=0", "@127.0.0.1", "pi.hole"), startup: 300},
	// PocketBase (the beszel hub): GET /api/health, pocketbase.io/docs/api-health.
	"beszel": {check: httpGet("/api/health", "http"), startup: 120},
	// The agent has no HTTP endpoint: it serves SSH to the hub on its port.
	"beszel-agent": {check: tcpSocket("agent")},
	// server/src/utils/healthcheck.ts of immich-app/immich: GET
	// /api/server/ping answers {"res":"pong"}. Database migrations run
	// before it listens.
	"immich-server": {check: httpGet("/api/server/ping", "http"), startup: 600},
	// machine-learning/scripts/healthcheck.py of immich-app/immich: GET /ping
	// on 3003. Models load on the first request, not at start, but Python's
	// imports on a Pi take a while.
	"immich-machine-learning": {check: httpGet("/ping", "http"), startup: 300},
	// pg_isready (PostgreSQL docs, "pg_isready"): accepting connections over
	// TCP as the server does for immich; initdb or crash recovery first.
	"immich-postgres": {check: command("pg_isready", "--host=127.0.0.1", "--port="+itoa(postgresPort), "--username="+immichDBUser, "--dbname="+immichDatabase), startup: 600},
	// valkey-cli ping (valkey docs, PING): an answer from the event loop,
	// which a TCP probe would not prove (the kernel accepts for a hung one).
	"immich-redis": {check: command("valkey-cli", "-p", itoa(redisPort), "ping")},
	// Home Assistant has no unauthenticated health endpoint (/api/ needs a
	// token); /manifest.json is served by its frontend without login, so a
	// 200 means the HTTP server and the event loop are up. The first start
	// installs integrations' Python requirements.
	"home-assistant": {check: httpGet("/manifest.json", "http"), startup: 600},
	// filebrowser's Dockerfile HEALTHCHECK: GET /health.
	"filebrowser": {check: httpGet("/health", "http"), startup: 60},
}

// withHealth adds the app's probes to its main container.
func withHealth(a app, c corev1.Container) corev1.Container {
	h, ok := healthChecks[a.name]
	if !ok {
		return c
	}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: h.check, PeriodSeconds: readyPeriod, FailureThreshold: readyFailures, TimeoutSeconds: probeTimeout}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: h.check, PeriodSeconds: livePeriod, FailureThreshold: liveFailures, TimeoutSeconds: probeTimeout}
	if h.startup > 0 {
		c.StartupProbe = &corev1.Probe{ProbeHandler: h.check, PeriodSeconds: startupPeriod, FailureThreshold: h.startup / startupPeriod, TimeoutSeconds: probeTimeout}
	}
	return c
}

func httpGet(path, port string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port)}}
}

func tcpSocket(port string) corev1.ProbeHandler {
	return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}}
}

func command(argv ...string) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: argv}}
}
