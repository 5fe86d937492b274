package manifests

// nginxProxyManager is a StatefulSet: each replica keeps its own proxy hosts
// and certificates on a local-path volume (see the package doc).
func (r *renderer) nginxProxyManager(a app) {
	ports := servicePorts(a.name)
	c := container(a, nil, ports...)
	stateMounts(&c, statePaths[a.name]...)
	tmpl := podTemplate(a, nil, c)
	r.proxyHosts(a, &tmpl)
	r.replicatedSet(a, tmpl, stateTemplate(a))
	r.exposed(a, ports)
}
