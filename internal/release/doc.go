// Package release puts a verified k3s release on the node: it resolves the
// asset locations of a version and arch from the cluster file (an http(s)
// mirror or an air-gap directory), downloads the binary (and the air-gap
// image tarball) with retries, hashes while streaming, and installs only a
// file whose sha256 matches the pinned hash or the release checksum file.
// Stage puts the verified files beside their targets without touching the
// installed ones and Commit renames them into place, verifying them again,
// so internal/k3s can hold a new release back until k3s's restart turn;
// Install is the two at once.
//
// A hash cache keyed by size, mtime, ctime and inode makes a no-op run read
// no 70 MB binary and touch no network. internal/k3s uses it; nothing here
// knows about config.yaml or the unit.
package release
