// Package agent ties the steps together: the phases of `join`, the reconcile
// loop of `run`, and the plan that shows both. It is the only package that
// knows about more than one step; data between steps flows through it.
package agent
