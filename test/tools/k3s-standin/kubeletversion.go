package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/component-base/version"
)

// reportVersion makes the kubelet report v as its Node's
// status.nodeInfo.kubeletVersion, the contract nodeagent's upgrade logic
// reads (k3s stamps its own version, such as v1.33.6+k3s1, into every
// component: scripts/build's VERSIONFLAGS).
//
// The kubelet takes the version from k8s.io/component-base/version, which
// it shares with the in-process kube-apiserver. The apiserver derives its
// binary and compatibility versions from the same gitVersion
// (component-base/compatibility: DefaultBuildEffectiveVersion parses
// version.Get()), and version.SetDynamicVersion only takes a version of
// the same major.minor.patch (dynamic.go). Stamping an upgrade test's
// v1.33.6+k3s1 there would make the v1.37.2 apiserver claim to be 1.33 and
// emulate it; so the stamp stays v1.37.2 and the kubelet's own requests
// carry v instead: the Node's kubeletVersion in the JSON bodies the
// kubelet sends (its registration and its status patches) is rewritten on
// the way out. Nothing else in the kubelet reads the field.
func reportVersion(rc *rest.Config, v string) {
	from := strconv.Quote(version.Get().GitVersion)
	if v == "" || strconv.Quote(v) == from {
		return
	}
	// JSON, not protobuf, so that the field can be found and rewritten.
	rc.ContentType = "application/json"
	rc.AcceptContentTypes = "application/json"
	old := []byte(`"kubeletVersion":` + from)
	repl := []byte(`"kubeletVersion":` + strconv.Quote(v))
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &versionRewriter{rt: rt, old: old, new: repl}
	})
}

type versionRewriter struct {
	rt       http.RoundTripper
	old, new []byte
}

func (v *versionRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || !strings.HasPrefix(r.URL.Path, "/api/v1/nodes") ||
		(r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
		return v.rt.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	body = bytes.ReplaceAll(body, v.old, v.new)
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return v.rt.RoundTrip(r)
}
