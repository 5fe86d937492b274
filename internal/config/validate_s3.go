package config

import (
	"net"
	"path"
	"strings"
)

// validateEtcdS3 checks the S3 settings k3s uploads its snapshots with.
// They are only checked for shape: whether the bucket answers is k3s's to
// find out (it logs the upload failure and keeps the local snapshot).
func validateEtcdS3(p *problems, s EtcdS3) {
	if !s.Enabled() {
		return
	}
	const f = "k3s.etcdSnapshots.s3."
	switch {
	case s.Endpoint == "":
		p.add(f+"endpoint", "is empty; name the S3 host, e.g. s3.us-west-004.backblazeb2.com")
	case strings.Contains(s.Endpoint, "://") || strings.Contains(s.Endpoint, "/"):
		p.add(f+"endpoint", "%q must be host[:port] without a scheme or path (k3s speaks https)", s.Endpoint)
	default:
		host := s.Endpoint
		if h, _, err := net.SplitHostPort(s.Endpoint); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, " \t") {
			p.add(f+"endpoint", "%q is not a host name", s.Endpoint)
		}
	}
	if s.Bucket == "" {
		p.add(f+"bucket", "is empty; name the bucket the snapshots go to")
	}
	if strings.HasPrefix(s.Folder, "/") {
		p.add(f+"folder", "%q is a prefix inside the bucket; drop the leading /", s.Folder)
	}
	switch {
	case s.CredentialsFile == "":
		p.add(f+"credentialsFile", "is empty; the access and secret keys go in a root-only file on every server, never in the cluster file")
	case !path.IsAbs(s.CredentialsFile):
		p.add(f+"credentialsFile", "%q must be an absolute path", s.CredentialsFile)
	}
}
