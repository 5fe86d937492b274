package apply

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Outcome is what happened to one object.
type Outcome string

// Outcomes of applying and pruning.
const (
	Created    Outcome = "created"
	Configured Outcome = "configured"
	Unchanged  Outcome = "unchanged"
	// Pending objects were not applied this time and will be retried: their
	// kind is not served yet, their chart is not installed or its webhook
	// does not answer yet, or the run stopped because quorum was lost.
	Pending Outcome = "pending"
	// Conflict objects have a field another field manager owns; nothing of
	// them was changed.
	Conflict Outcome = "conflict"
	Failed   Outcome = "failed"
	// Pruned objects were in the inventory, are no longer rendered and were
	// deleted.
	Pruned Outcome = "pruned"
	// Kept objects are no longer rendered but were deliberately not deleted
	// (see Result.Reason).
	Kept Outcome = "kept"
)

// FieldConflict is one field another manager owns.
type FieldConflict struct {
	Field   string `json:"field"`
	Manager string `json:"manager"`
}

// Result is the outcome for one object.
type Result struct {
	// Key is "Kind/namespace/name" (namespace empty for cluster objects).
	Key       string
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	Outcome   Outcome
	// Reason explains pending, conflict, failed and kept outcomes.
	Reason    string
	Conflicts []FieldConflict
	// UID of the live object after the apply.
	UID string
}

// Report lists the outcome of every object of one Apply, in input order,
// followed by the prune outcomes.
type Report struct {
	Results []Result
	Pruned  []Result
	// Stopped is set when the run stopped early because quorum was lost.
	Stopped bool
	// Waited is the time spent waiting for the cluster: CRDs to be
	// Established, chart kinds to be served, charts to be installed and
	// their webhooks to answer (k3s's work, not the apply's).
	Waited time.Duration
}

// Counts tallies outcomes over Results and Pruned.
func (r *Report) Counts() map[Outcome]int {
	n := map[Outcome]int{}
	for _, res := range r.Results {
		n[res.Outcome]++
	}
	for _, res := range r.Pruned {
		n[res.Outcome]++
	}
	return n
}

// Summary is one line like "created=3 unchanged=40 pending=2".
func (r *Report) Summary() string {
	n := r.Counts()
	keys := make([]string, 0, len(n))
	for o := range n {
		keys = append(keys, string(o))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, n[Outcome(k)])
	}
	return strings.Join(parts, " ")
}

// Done reports whether every object is applied: nothing pending, in
// conflict or failed. The agent marks the apply step converged only then.
func (r *Report) Done() bool {
	n := r.Counts()
	return n[Pending]+n[Conflict]+n[Failed] == 0 && !r.Stopped
}

// Err joins the conflicts and failures into one error (nil when none).
// Pending objects are not errors: the next reconcile retries them.
func (r *Report) Err() error {
	var errs []error
	for _, res := range append(append([]Result{}, r.Results...), r.Pruned...) {
		if res.Outcome == Conflict || res.Outcome == Failed {
			errs = append(errs, fmt.Errorf("%s %s: %s", res.Outcome, res.Key, res.Reason))
		}
	}
	return errors.Join(errs...)
}

// Key names an object as "Kind/namespace/name", like manifests.Key.
func Key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

func newResult(u *unstructured.Unstructured) Result {
	return Result{Key: Key(u), GVK: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}
