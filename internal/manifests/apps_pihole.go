package manifests

// pihole is a StatefulSet: each replica keeps its own gravity database and
// settings on a local-path volume (see the package doc).
func (r *renderer) pihole(a app) {
	ports := servicePorts(a.name)
	// Pi-hole 6 answers only clients of its own subnets by default; behind
	// a Service every client comes from elsewhere.
	c := container(a, sortedEnv(map[string]string{"FTLCONF_dns_listeningMode": "all"}), ports...)
	stateMounts(&c, statePaths[a.name]...)
	r.replicatedSet(a, podTemplate(a, nil, c), stateTemplate(a))
	r.exposed(a, ports)
}
