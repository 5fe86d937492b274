package apply

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The errors are built as k8s.io/apiserver's validating dispatcher builds
// them; the apiserver test checks the real ones.
func TestUnreachableWebhook(t *testing.T) {
	gr := schema.GroupResource{Group: "metallb.io", Resource: "ipaddresspools"}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", apierrors.NewInternalError(errors.New(`failed calling webhook "ipaddresspoolvalidationwebhook.metallb.io": ` +
			`failed to call webhook: Post "https://metallb-webhook-service.metallb-system.svc:443/validate": dial tcp 10.43.0.9:443: connect: connection refused`)),
			"ipaddresspoolvalidationwebhook.metallb.io"},
		{"denied", apierrors.NewForbidden(gr, "lan", errors.New(`admission webhook "ipaddresspoolvalidationwebhook.metallb.io" denied the request: bad pool`)), ""},
		{"other internal error", apierrors.NewInternalError(errors.New("etcdserver: request timed out")), ""},
		{"not an API error", fmt.Errorf(`failed calling webhook "x.example.com": nope`), ""},
		{"nil", nil, ""},
	} {
		got, ok := unreachableWebhook(tc.err)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: unreachableWebhook = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
