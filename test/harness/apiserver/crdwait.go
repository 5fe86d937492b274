package apiserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// errNamesNotAccepted marks a CRD whose names conflict with another; it
// never resolves by waiting, so waitCRD returns at once.
var errNamesNotAccepted = errors.New("CRD names not accepted")

// waitCRD polls until the CRD is Established and every served version lists
// its plural in discovery: Established alone does not mean a RESTMapper or a
// server-side apply by GVK will find the resource yet.
func waitCRD(ctx context.Context, client dynamic.ResourceInterface, disc discovery.DiscoveryInterface, crd *unstructured.Unstructured) error {
	ticker := time.NewTicker(crdPollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		lastErr = crdReady(ctx, client, disc, crd.GetName())
		if lastErr == nil {
			return nil
		}
		if errors.Is(lastErr, errNamesNotAccepted) {
			return fmt.Errorf("waiting for CRD %s: %w", crd.GetName(), lastErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for CRD %s: %w (last: %v)", crd.GetName(), ctx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}

func crdReady(ctx context.Context, client dynamic.ResourceInterface, disc discovery.DiscoveryInterface, name string) error {
	live, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := crdEstablished(live); err != nil {
		return err
	}
	group, _, _ := unstructured.NestedString(live.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(live.Object, "spec", "names", "plural")
	for _, version := range servedVersions(live) {
		list, err := disc.ServerResourcesForGroupVersion(group + "/" + version)
		if err != nil {
			return fmt.Errorf("discovering %s/%s: %w", group, version, err)
		}
		if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == plural }) {
			return fmt.Errorf("%s not yet in discovery for %s/%s", plural, group, version)
		}
	}
	return nil
}

// crdEstablished reads status.conditions.
func crdEstablished(crd *unstructured.Unstructured) error {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		switch {
		case m["type"] == "Established" && m["status"] == "True":
			established = true
		case m["type"] == "NamesAccepted" && m["status"] == "False":
			return fmt.Errorf("%w: %v", errNamesNotAccepted, m["message"])
		}
	}
	if !established {
		return errors.New("not yet Established")
	}
	return nil
}

func servedVersions(crd *unstructured.Unstructured) []string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if name, _ := m["name"].(string); name != "" && m["served"] == true {
			served = append(served, name)
		}
	}
	return served
}
