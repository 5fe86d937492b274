// Package apply applies the rendered cluster manifests to the apiserver with
// server-side apply, exactly once and safely.
//
// The Engine takes objects in apply order and
//   - applies Namespaces and CustomResourceDefinitions first and waits (with
//     a deadline) for the CRDs to be Established;
//   - applies the rest with field manager "nodeagent" and Force=false, so a
//     field another manager owns is reported as a conflict (which field,
//     which manager) instead of being taken, unless the object is listed in
//     the cluster file's apply.forceConflicts;
//   - defers objects whose kind is not served yet (a chart installs its CRD
//     after its HelmChart is applied), waits for the kind with a deadline and
//     reports them as pending, not failed, so the next reconcile retries them;
//   - applies an object of a kind a chart brings (Options.Charts, from
//     manifests.ChartGroups: metallb.io, cert-manager.io, bitnami.com) only
//     once k3s's helm controller has installed that chart: its install Job
//     kube-system/helm-install-<chart> is Complete and was made for the
//     chart's version and repo. Until then, and while the apiserver cannot
//     call one of the chart's admission webhooks (failurePolicy Fail and no
//     controller answering yet: an InternalError "failed calling webhook"),
//     the object waits under the same deadline as a kind, retried with
//     backoff, and is reported pending with the reason ("waiting for chart
//     metallb's webhook ipaddresspoolvalidationwebhook.metallb.io"). A
//     webhook that answers and denies is a failure with its message, and so
//     is a chart whose install Job failed (chartwait.go);
//   - lists each kind once per pass (objects labelled as nodeagent's) and
//     skips the apply of an object whose live copy already is what the
//     apply would make it: every value nodeagent sets is there, and
//     nodeagent's Apply entry in managedFields owns exactly those fields
//     (noop.go). A value someone else edited, a field another manager took
//     over, a value nodeagent no longer renders, or a failed last apply
//     each get an apply, so a no-op pass writes nothing and drift is still
//     repaired (or reported as a conflict) on the next pass;
//   - tells "unchanged" from "configured" by the resourceVersion before and
//     after the apply (an apply of identical content does not bump it);
//   - records what it created in an inventory ConfigMap
//     (kube-system/nodeagent-inventory) and prunes inventory objects that are
//     no longer rendered. An object that is not in the inventory, lacks the
//     app.kubernetes.io/managed-by=nodeagent label or has another UID than the
//     one nodeagent created is never deleted. Namespaces, CRDs,
//     PersistentVolumeClaims and PersistentVolumes are kept (reported as
//     "kept" on every apply until deleted by hand): deleting them deletes
//     what is in them;
//   - keeps, beside the inventory, each server's overlay record: the keys of
//     the overlay objects that server last applied. Servers' overlay
//     directories may differ, and whichever holds the lease applies its own,
//     so an object in any server's record is never pruned, and an overlay
//     object only once every server of the cluster file has recorded an
//     overlay without it (overlayrecord.go). This is the simplest rule that
//     is safe whoever holds the lease: no server deletes what another's
//     overlay holds, nothing is re-created and deleted turn after turn, and a
//     manifest deleted from every server is pruned;
//   - checks a "quorum still held" function between steps and stops at the
//     next boundary when it reports false, leaving the rest pending.
//
// Leader serialises appliers: every server competes for the Lease
// kube-system/nodeagent-apply and only the holder applies. LoadOverlay reads
// the user's extra manifests (apply.overlayDir).
package apply
