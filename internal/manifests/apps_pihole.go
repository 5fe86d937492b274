package manifests

func (r *renderer) pihole(a app) {
	ports := servicePorts(a.name)
	// Pi-hole 6 answers only clients of its own subnets by default; behind
	// a Service every client comes from elsewhere.
	c := withReadiness(container(a, sortedEnv(map[string]string{"FTLCONF_dns_listeningMode": "all"}), ports...), "dns-tcp")
	vols := r.state(a, &c, "/etc/pihole")
	r.deployment(a, podTemplate(a, vols, c), a.w.Storage != "")
	r.exposed(a, ports)
}
