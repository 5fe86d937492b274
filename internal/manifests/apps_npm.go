package manifests

func (r *renderer) nginxProxyManager(a app) {
	ports := servicePorts(a.name)
	c := withReadiness(container(a, nil, ports...), "http")
	vols := r.state(a, &c, "/data", "/etc/letsencrypt")
	r.deployment(a, podTemplate(a, vols, c), a.w.Storage != "")
	r.exposed(a, ports)
}
