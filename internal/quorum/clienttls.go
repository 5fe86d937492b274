package quorum

import "crypto/tls"

// LoadClientTLS reads this server's etcd client certificate and CA from dir
// (DefaultTLSDir on a k3s server), for a client of another server's etcd.
func LoadClientTLS(dir string) (*tls.Config, error) { return loadTLS(dir) }
