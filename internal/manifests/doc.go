// Package manifests renders the cluster's Kubernetes objects from the cluster
// file — the platform (MetalLB, cert-manager, sealed-secrets as k3s HelmCharts
// plus the objects that need their CRDs) and the homelab's workloads.
// Whether they fit the nodes is the capacity package's question.
//
// Everything here is pure: Render reads a *config.Cluster and returns data. Applying the objects is the kube package's job; the order of a
// Set (Phase, then kind, namespace and name) is the order to apply them in.
//
// Rendering choices that the architecture leaves open:
//
//   - Namespaces per application group (network, monitoring, immich,
//     home-automation, files, backup): Secrets are created per group and a
//     future NetworkPolicy can isolate a group.
//   - Requests come from the cluster file; the memory limit is the request
//     ×1.5 (rounded up to a MiB) so a short peak does not OOM-kill the pod
//     while a leak still does; there is no CPU limit, because CFS throttling
//     on a 4-core Pi adds latency (DNS!) and CPU is compressible anyway.
//   - pihole: one LoadBalancer Service with TCP and UDP on port 53 (mixed
//     protocols are GA since Kubernetes 1.26 and MetalLB supports them), so
//     the address has one owner and no metallb allow-shared-ip pairing that
//     a later edit could break.
//   - pihole's configuration is the cluster file's dns section, rendered
//     into one ConfigMap of FTLCONF_ variables (upstreams, local domain, a
//     record <name>.<domain> per exposed service plus dns.records, further
//     pihole.toml settings) that every replica reads as envFrom; the pod
//     template carries its hash, so a change replaces every replica, and
//     Pi-hole shows those settings read-only, so its web UI cannot make one
//     replica differ. The web password comes from Secret network/pihole.
//   - home-assistant: the host's /dev/serial/by-id directory is mounted
//     (hostPath Directory): the by-id name stays the same whichever ttyUSB*/
//     ttyACM* number the dongle gets, and the pod does not start on a node
//     without a serial device. Opening the tty needs a device cgroup rule that
//     stock k3s/containerd only grants to privileged containers, so this one
//     container is privileged; a device plugin would allow less but adds a
//     component the architecture does not have.
//   - nginx-proxy-manager's two replicas serve the same proxy hosts and
//     certificates because both come from the cluster file, not from npm's
//     database: the hosts of proxy.hosts are rendered into one ConfigMap of
//     nginx server blocks that every replica mounts (read-only, outside /data
//     and /etc/nginx/conf.d, which npm's start scripts rewrite and chown: a
//     read-only file there stops the container), and an init container
//     writes the include line into /data/nginx/custom/http.conf, the file
//     npm's nginx.conf includes at the end of its http block. Each TLS host
//     has a cert-manager Certificate whose Secret every replica mounts;
//     ssl_certificate names it through a variable, so nginx reads it at each
//     handshake and serves a renewal without a reload (about 1.2 ms more
//     worker CPU per full handshake, measured on x86 with nginx 1.22: nothing
//     at a homelab's rate). proxy_pass goes through a variable too, so
//     Service names are resolved per request by npm's resolver and a missing
//     Service does not stop nginx. A hash of the configuration on the pod
//     template rolls both replicas on a change.
//     Not a shared MySQL database, which npm supports: npm writes a host's
//     nginx file only in the replica that served the UI request, so the other
//     replica's nginx stays stale until it restarts; both replicas would run
//     the Let's Encrypt renewals; and the database would be one more single
//     point of failure on one node.
//
// Known limits, reported rather than hidden:
//
//   - No app keeps user state in an emptyDir (storage.go: a default size
//     when the cluster file has none; emptyDirs only for the caches listed
//     in ephemeralPaths). nginx-proxy-manager and pihole are StatefulSets
//     with one local-path volume per replica, so their replicas do not share
//     state: what they must agree on is declared instead (see above). Hosts
//     made in npm's UI stay in one replica. For pihole, what stays per
//     replica is the gravity database (adlists, allow/deny lists and groups
//     added in the web UI: Pi-hole v6 has no FTLCONF_ setting for them), the
//     query log and statistics, and the client list. local-path volumes are
//     on the SD cards and restic does not back them up (README "Where each
//     app's data lives").
//   - Probes (probes.go) use each app's own health check where it has one;
//     home-assistant has none without a token, so its probe only proves the
//     HTTP server and frontend answer.
//   - local-path volumes bind to the node a pod first ran on, so SOFT
//     workloads with one (beszel, immich-postgres, each replica of
//     nginx-proxy-manager and pihole) cannot move after a failure, and
//     home-assistant cannot follow the Zigbee stick to another node although
//     the zigbee label does. The capacity analysis reports the first.
//   - Which images run as non-root with a read-only root is in profiles,
//     from the images' documentation; it is not tested against the images.
package manifests
