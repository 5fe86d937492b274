package manifests

// nginxProxyManager is a StatefulSet: each replica keeps its own proxy hosts
// and certificates on a local-path volume (see the package doc).
func (r *renderer) nginxProxyManager(a app) {
	ports := servicePorts(a.name)
	c := container(a, nil, ports...)
	stateMounts(&c, statePaths[a.name]...)
	r.replicatedSet(a, podTemplate(a, nil, c), stateTemplate(a))
	r.exposed(a, ports)
}
