package manifests

// pihole is a StatefulSet: each replica keeps its own gravity database and
// settings on a local-path volume (see the package doc).
func (r *renderer) pihole(a app) {
	ports := servicePorts(a.name)
	c, hash := r.piholeConfig(a, container(a, nil, ports...))
	stateMounts(&c, statePaths[a.name]...)
	tmpl := podTemplate(a, nil, c)
	tmpl.Annotations = map[string]string{ConfigHashAnnotation: hash}
	r.replicatedSet(a, tmpl, stateTemplate(a))
	r.exposed(a, ports)
}
