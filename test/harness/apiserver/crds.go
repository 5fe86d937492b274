package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

const (
	// crdTimeout bounds the wait for one CRD to be Established and served.
	crdTimeout = time.Minute
	// crdPollInterval is how often a CRD's status and discovery are read.
	crdPollInterval = 100 * time.Millisecond
	// fieldManager owns the CRDs the harness applies.
	fieldManager = "nodeagent-test-harness"
)

var crdResource = schema.GroupVersionResource{
	Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions",
}

// InstallCRDs applies the CustomResourceDefinitions in the given YAML (or
// JSON) streams, which may hold several "---"-separated documents, and waits
// until each is Established and its resource is in discovery. It fails the
// test on error and returns the CRD names.
func (s *Server) InstallCRDs(t testing.TB, manifests ...[]byte) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crdTimeout)
	defer cancel()
	names, err := InstallCRDs(ctx, s.config, manifests...)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// InstallCRDs is Server.InstallCRDs for any cluster reachable with cfg. It
// uses server-side apply, so installing the same CRDs twice is harmless.
func InstallCRDs(ctx context.Context, cfg *rest.Config, manifests ...[]byte) ([]string, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating discovery client: %w", err)
	}
	var crds []*unstructured.Unstructured
	for _, m := range manifests {
		objs, err := decodeCRDs(m)
		if err != nil {
			return nil, err
		}
		crds = append(crds, objs...)
	}
	client := dyn.Resource(crdResource)
	names := make([]string, 0, len(crds))
	for _, crd := range crds {
		data, err := crd.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding CRD %s: %w", crd.GetName(), err)
		}
		force := true
		_, err = client.Patch(ctx, crd.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
		if err != nil {
			return nil, fmt.Errorf("applying CRD %s: %w", crd.GetName(), err)
		}
		names = append(names, crd.GetName())
	}
	for _, crd := range crds {
		if err := waitCRD(ctx, client, disc, crd); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// decodeCRDs splits a YAML or JSON stream into CRD objects, skipping empty
// documents and refusing any other kind, so a wrong fixture fails loudly.
func decodeCRDs(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var crds []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return crds, nil
		} else if err != nil {
			return nil, fmt.Errorf("decoding CRD manifest: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if gvk := u.GroupVersionKind(); gvk.Group != crdResource.Group || gvk.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("decoding CRD manifest: %s %q is not a CustomResourceDefinition", gvk, u.GetName())
		}
		crds = append(crds, u)
	}
}
