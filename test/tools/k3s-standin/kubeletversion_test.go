package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/component-base/version"
)

func TestReportVersionRewritesTheKubeletsNodeBodies(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	defer srv.Close()
	rc := &rest.Config{Host: srv.URL}
	reportVersion(rc, "v1.33.6+k3s1")
	rt, err := rest.TransportFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	stamp := version.Get().GitVersion
	for _, r := range []struct{ method, path string }{
		{http.MethodPatch, "/api/v1/nodes/n1/status"},
		{http.MethodPost, "/api/v1/namespaces/x/configmaps"},
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(`{"kubeletVersion":"`+stamp+`"}`))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	want := []string{
		`PATCH /api/v1/nodes/n1/status {"kubeletVersion":"v1.33.6+k3s1"}`,
		`POST /api/v1/namespaces/x/configmaps {"kubeletVersion":"` + stamp + `"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bodies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
