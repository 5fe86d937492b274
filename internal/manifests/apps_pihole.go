package manifests

func (r *renderer) pihole(a app) {
	ports := servicePorts(a.name)
	c, hash := r.piholeConfig(a, container(a, nil, ports...))
	c = withReadiness(c, "dns-tcp")
	vols := r.state(a, &c, "/etc/pihole")
	tmpl := podTemplate(a, vols, c)
	tmpl.Annotations = map[string]string{ConfigHashAnnotation: hash}
	r.deployment(a, tmpl, a.w.Storage != "")
	r.exposed(a, ports)
}
