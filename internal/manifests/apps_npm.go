package manifests

func (r *renderer) nginxProxyManager(a app) {
	ports := servicePorts(a.name)
	c := withReadiness(container(a, nil, ports...), "http")
	vols := r.state(a, &c, "/data", "/etc/letsencrypt")
	tmpl := podTemplate(a, vols, c)
	r.proxyHosts(a, &tmpl)
	r.deployment(a, tmpl, a.w.Storage != "")
	r.exposed(a, ports)
}
